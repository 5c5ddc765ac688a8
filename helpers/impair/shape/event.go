package shape

// The helper's stdout is JSON lines, one Event each. Its contract:
//
//	impair probe                      -> one "probe" event; exit 0
//	impair apply IFACE [flags]... ... -> one "applied" per interface, then
//	                                     "stats" every --stats interval, and on
//	                                     SIGTERM/SIGINT one "cleared" per
//	                                     interface; exit 0
//	impair clear IFACE...             -> one "cleared" per interface; exit 0
//	impair fault serve IFACE [FAULT]... -> one "applied" (with faults), then
//	                                     on SIGTERM/SIGINT one "cleared" (with
//	                                     what each fault did); exit 0
//	impair fault add IFACE FAULT...   -> one "faults": every fault in force
//	                                     on IFACE after the addition; exit 0
//	impair fault list IFACE           -> one "faults"; exit 0
//
// A failure prints one "error" event (and a line on stderr) and exits with
// ExitFailed, ExitUsage or ExitUnsupported.

// Event kinds.
const (
	EventProbe   = "probe"
	EventApplied = "applied"
	EventStats   = "stats"
	EventCleared = "cleared"
	EventError   = "error"
	EventFaults  = "faults"
)

// Mechanisms an interface is impaired with.
const (
	// MechanismNetem is the kernel's netem qdisc (and nothing else).
	MechanismNetem = "netem"
	// MechanismFallback is, on kernels without netem: duplication at the
	// nftables netdev egress hook, rate by a TBF qdisc, and delay, jitter,
	// loss, reordering and corruption by a user-space NFQUEUE delay line.
	MechanismFallback = "fallback"
	// MechanismDelayLine is the user-space NFQUEUE delay line alone, as
	// faults use it on every kernel (netem cannot pick one packet).
	MechanismDelayLine = "delay line"
)

// Exit codes of the helper.
const (
	ExitOK          = 0
	ExitFailed      = 1 // the kernel refused something; the error event says what
	ExitUsage       = 2 // bad command line or settings
	ExitUnsupported = 3 // the kernel has neither mechanism for these settings
)

// Event is one line of the helper's stdout.
type Event struct {
	Event string `json:"event"`
	// Interface is the interface's name in the node's network namespace
	// (applied, stats, cleared, and error when it concerns one interface).
	Interface string `json:"interface,omitempty"`
	// Mechanism is MechanismNetem or MechanismFallback (applied).
	Mechanism string `json:"mechanism,omitempty"`
	// Settings in force (applied), in their text forms, keyed as in Fields.
	Settings map[string]string `json:"settings,omitempty"`
	// Probe is what the kernel offers (probe).
	Probe *Probe `json:"probe,omitempty"`
	// Stats of the user-space delay line (stats, and cleared after apply).
	Stats *Stats `json:"stats,omitempty"`
	// Faults in force on Interface and what each did (faults, and applied
	// and cleared of impair fault serve).
	Faults []FaultState `json:"faults,omitempty"`
	// Error says what failed, where and how to fix it (error).
	Error string `json:"error,omitempty"`
}

// Probe is what the kernel of a network namespace offers for impairment.
type Probe struct {
	Netem        bool `json:"netem"`         // sch_netem
	TBF          bool `json:"tbf"`           // sch_tbf, for rate
	NetdevEgress bool `json:"netdev_egress"` // nftables netdev egress hook with numgen and dup (duplicate)
	NFQueue      bool `json:"nfqueue"`       // nfnetlink_queue and the xtables NFQUEUE target through nft_compat
	// Mechanism is what apply would use: MechanismNetem, MechanismFallback,
	// or "" when neither works (Missing says what lacks).
	Mechanism string   `json:"mechanism"`
	Missing   []string `json:"missing,omitempty"`
}

// Stats counts what the user-space delay line did on one interface.
type Stats struct {
	Queued    uint64 `json:"queued"`    // packets received from the kernel
	Released  uint64 `json:"released"`  // packets given back to the kernel
	Corrupted uint64 `json:"corrupted"` // packets released with one bit flipped
	Dropped   uint64 `json:"dropped"`   // packets lost on purpose (loss)
	Held      int    `json:"held"`      // packets held right now
	Errors    uint64 `json:"errors"`    // verdicts the kernel refused
}

// Values is s in its text forms keyed as in Fields, only the settings in
// force (the Settings of an applied Event).
func (s Settings) Values() map[string]string {
	m := map[string]string{}
	for _, f := range Fields {
		if v, ok := s.value(f); ok {
			m[f] = v
		}
	}
	return m
}
