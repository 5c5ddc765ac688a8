// Command lookup serves the sockets tutorial's framed protocol; see package lookup.
package main

import (
	"socketlab/services/internal/service"
	"socketlab/services/lookup"
)

func main() { service.Main(lookup.Spec()) }
