package packet

// CloseKind is how a TCP connection ended, as capture judges it and a
// scenario's expect.wire names it.
type CloseKind string

// How a connection can end: not seen, an orderly FIN, a reset.
const (
	CloseNone CloseKind = ""
	CloseFIN  CloseKind = "fin"
	CloseRST  CloseKind = "rst"
)

// Side is one end of a TCP connection: the client sent the first SYN.
type Side string

// The two ends.
const (
	SideClient Side = "client"
	SideServer Side = "server"
)
