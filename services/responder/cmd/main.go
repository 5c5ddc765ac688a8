// Command responder answers each UDP datagram with the sender's address and
// family; see package responder.
package main

import (
	"socketlab/services/internal/service"
	"socketlab/services/responder"
)

func main() { service.Main(responder.Spec()) }
