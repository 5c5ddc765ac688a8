package service

// LoopPort reports whether port is the source port of one of the small
// services that answer any datagram (echo 7, daytime 13, chargen 19, time 37).
// A UDP server that replies to such a port can start a loop in which two
// servers answer each other forever (CERT CA-1996-01), so socketlab's UDP
// servers drop those datagrams silently.
func LoopPort(port uint16) bool {
	switch port {
	case 7, 13, 19, 37:
		return true
	}
	return false
}
