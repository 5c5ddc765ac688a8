// Command welcome serves the welcome greeting; see package welcome.
package main

import (
	"socketlab/services/internal/service"
	"socketlab/services/welcome"
)

func main() { service.Main(welcome.Spec()) }
