// Command chat serves IRC on TCP 6667; see package chat.
package main

import (
	"socketlab/services/chat"
	"socketlab/services/internal/service"
)

func main() { service.Main(chat.Spec()) }
