package ring

// Defaults and limits of Config. Zero fields take the defaults.
const (
	// DefaultSize is the arena size used when Config.Size is 0 (4 MiB).
	DefaultSize = 4 << 20
	// MinSize and MaxSize bound Config.Size (4 KiB .. 1 GiB, power of two).
	MinSize = 4 << 10
	MaxSize = 1 << 30
	// DefaultMaxClaim is used when Config.MaxClaim is 0 (64 MiB).
	DefaultMaxClaim = 64 << 20
	// MaxExternalLimit bounds Config.MaxExternal and Config.MaxClaim (4 GiB),
	// which keeps every in-flight stream distance below 2^35 (see the package
	// doc: the claim word keeps 36 bits of position).
	MaxExternalLimit = 1 << 32
	// maxExtSlots bounds the number of external frames in flight (the size of
	// the external-frame queue).
	maxExtSlots = 4096
	minExtSlots = 4
	// MinMaxFrames and MaxMaxFrames bound Config.MaxFrames.
	MinMaxFrames = 1 << 8
	MaxMaxFrames = 1 << 24
)

// Config sizes a Ring. The zero value is valid and gives the defaults.
type Config struct {
	// Size is the arena size in bytes: a power of two in [MinSize, MaxSize].
	// Default DefaultSize (4 MiB).
	Size int
	// MaxInline is the largest claim placed in the arena; larger claims get
	// an external pooled buffer. 1 <= MaxInline <= Size. Default Size/16.
	MaxInline int
	// MaxExternal is the budget, in bytes, of external (oversized) frames
	// claimed and not yet released; Claim blocks (TryClaim fails) while a new
	// external frame would exceed it. A single external frame larger than
	// the budget is admitted when no other external frame is in flight, so
	// external memory is bounded by max(MaxExternal, MaxClaim).
	// 1 <= MaxExternal <= MaxExternalLimit. Default Size.
	MaxExternal int
	// MaxClaim is the largest claim at all; larger ones fail with
	// ErrTooLarge. 1 <= MaxClaim <= MaxExternalLimit. Default DefaultMaxClaim
	// (64 MiB).
	MaxClaim int
	// MaxFrames bounds the frames claimed and not yet released; Claim blocks
	// (TryClaim fails) beyond it.
	// It sizes the commit table (16 bytes per frame) through which producers
	// commit without waiting for each other. Rounded up to a power of two in
	// [MinMaxFrames, MaxMaxFrames]. Default Size/64 (at least 1024), enough
	// to fill the arena with 64-byte frames.
	MaxFrames int
	// Retain keeps frames after they are sent: Sent only advances the send
	// cursor, and the consumer frees frames with DiscardThrough (a publish
	// store frees them when the server has persisted them) and can send them
	// again after Rewind. The ring then holds at most Size arena bytes,
	// MaxExternal external bytes (or one larger frame) and MaxFrames frames
	// unsent or unacknowledged. Default false: Sent frees every whole frame
	// it covers.
	Retain bool
}

// withDefaults returns cfg with zero fields replaced by their defaults.
func (cfg Config) withDefaults() Config {
	if cfg.Size == 0 {
		cfg.Size = DefaultSize
	}
	if cfg.MaxInline == 0 {
		cfg.MaxInline = cfg.Size / 16
	}
	if cfg.MaxExternal == 0 {
		cfg.MaxExternal = cfg.Size
	}
	if cfg.MaxClaim == 0 {
		cfg.MaxClaim = DefaultMaxClaim
	}
	if cfg.MaxFrames == 0 {
		cfg.MaxFrames = max(cfg.Size/64, 1024)
	}
	return cfg
}

// validate checks a Config that already has its defaults applied.
func (cfg Config) validate() error {
	switch {
	case cfg.Size < MinSize || cfg.Size > MaxSize:
		return &ConfigError{Field: "Size", Value: cfg.Size, Reason: "must be in [4 KiB, 1 GiB]"}
	case cfg.Size&(cfg.Size-1) != 0:
		return &ConfigError{Field: "Size", Value: cfg.Size, Reason: "must be a power of two"}
	case cfg.MaxInline < 1 || cfg.MaxInline > cfg.Size:
		return &ConfigError{Field: "MaxInline", Value: cfg.MaxInline, Reason: "must be in [1, Size]"}
	case cfg.MaxExternal < 1 || uint64(cfg.MaxExternal) > MaxExternalLimit:
		return &ConfigError{Field: "MaxExternal", Value: cfg.MaxExternal, Reason: "must be in [1, 4 GiB]"}
	case cfg.MaxClaim < 1 || uint64(cfg.MaxClaim) > MaxExternalLimit:
		return &ConfigError{Field: "MaxClaim", Value: cfg.MaxClaim, Reason: "must be in [1, 4 GiB]"}
	case cfg.MaxFrames < 1 || cfg.MaxFrames > MaxMaxFrames:
		return &ConfigError{Field: "MaxFrames", Value: cfg.MaxFrames, Reason: "must be in [1, 16 Mi]"}
	}
	return nil
}

// extSlotsFor returns the capacity of the external-frame queue: enough for
// MaxExternal bytes of frames just above MaxInline, as a power of two in
// [minExtSlots, maxExtSlots].
func extSlotsFor(cfg Config) int {
	need := cfg.MaxExternal/(cfg.MaxInline+1) + 1
	if need > maxExtSlots {
		need = maxExtSlots
	}
	s := minExtSlots
	for s < need {
		s <<= 1
	}
	return s
}

// frameSlotsFor returns Config.MaxFrames rounded up to a power of two, at
// least MinMaxFrames.
func frameSlotsFor(cfg Config) int {
	s := MinMaxFrames
	for s < cfg.MaxFrames {
		s <<= 1
	}
	return s
}
