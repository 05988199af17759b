package fastpub

// Authenticator supplies the password (or token) sent at logon, as in the
// official clients.
//
// Authenticate is called once per Logon with the URI's user and password and
// returns the value sent as "pw". When the server answers "retry" (a
// challenge), Retry is called with the user and token the server sent and
// returns the next "pw"; the logon is sent again with that user. Completed is
// called once the server accepted or refused the logon, with the server's
// reason (empty on success). Implementations must not log the password.
type Authenticator interface {
	Authenticate(user, password string) (string, error)
	Retry(user, token string) (string, error)
	Completed(user, password, reason string)
}

// DefaultAuthenticator sends the URI's password unchanged and answers a
// challenge with the server's token unchanged.
type DefaultAuthenticator struct{}

// Authenticate returns password.
func (DefaultAuthenticator) Authenticate(user, password string) (string, error) { return password, nil }

// Retry returns token.
func (DefaultAuthenticator) Retry(user, token string) (string, error) { return token, nil }

// Completed does nothing.
func (DefaultAuthenticator) Completed(user, password, reason string) {}
