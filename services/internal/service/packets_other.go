//go:build !linux

package service

import "net"

// serveBatches needs recvmmsg and sendmmsg, which only Linux has: the
// caller serves datagrams one at a time.
func (d *Datagrams) serveBatches(uc *net.UDPConn, local string) (bool, error) { return false, nil }
