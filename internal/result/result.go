// Package result is the contract between the sock clients and the scenario
// checks: the one JSON object `sock --json` prints, and the vocabulary of the
// ways a client run can fail. The clients write it (services/internal/probe)
// and labctl/check reads it back, both through these types, so a change to
// the shape is a compile error on both sides rather than a silent mismatch.
package result

import "slices"

// Kind names how a client run failed. The zero value means it did not fail.
type Kind string

// The failure kinds a client reports.
const (
	Refused     Kind = "refused"     // RST to a SYN, or ICMP port unreachable for UDP
	Timeout     Kind = "timeout"     // no answer in time
	Unreachable Kind = "unreachable" // no route to the host or network
	Resolve     Kind = "resolve"     // the name did not resolve (for this family)
	Reset       Kind = "reset"       // the peer reset an open connection
	Protocol    Kind = "protocol"    // the peer answered, but not as the protocol says
	Usage       Kind = "usage"       // the client was called wrongly
	IO          Kind = "io"          // any other failure
)

// Any is what a scenario step expects when any failure will do. A client
// never reports it.
const Any Kind = "any"

// expectable are the kinds a scenario step may expect, in the order help
// and the schema list them. Usage and IO are left out: a step that expects
// the client to be called wrongly, or to fail in no particular way, tests
// nothing about the network.
var expectable = []Kind{Refused, Timeout, Unreachable, Resolve, Reset, Protocol, Any}

// Expectable returns the kinds a scenario step may name in `expect.fail`,
// Any included. The slice is the caller's to keep.
func Expectable() []Kind { return slices.Clone(expectable) }

// Matches reports whether a run that failed with kind got meets a step that
// expects a failure of kind want: the same kind, or want is Any.
func (want Kind) Matches(got Kind) bool { return want == Any || got == want }

// Timings are milliseconds from the start of the run.
type Timings struct {
	Resolve   float64 `json:"resolve"`
	Connect   float64 `json:"connect"`
	FirstByte float64 `json:"first_byte,omitempty"`
	Total     float64 `json:"total"`
}

// Result is the outcome of one client run, exactly as `sock --json` prints it.
type Result struct {
	Client        string   `json:"client"`
	Target        string   `json:"target"`
	Network       string   `json:"network"`
	Resolved      []string `json:"resolved,omitempty"`
	Local         string   `json:"local,omitempty"`
	Remote        string   `json:"remote,omitempty"`
	Family        string   `json:"family,omitempty"`
	Sent          string   `json:"sent,omitempty"`
	Received      string   `json:"received,omitempty"`
	BytesSent     int64    `json:"bytes_sent"`
	BytesReceived int64    `json:"bytes_received"`
	Timings       Timings  `json:"timings_ms"`
	OK            bool     `json:"ok"`
	Error         string   `json:"error,omitempty"`
	ErrorKind     Kind     `json:"error_kind,omitempty"`
	// Details holds what a particular client adds (counts, latencies, headers).
	Details map[string]any `json:"details,omitempty"`
}
