// Command echo serves RFC 862 echo over TCP and UDP; see package echo.
package main

import (
	"socketlab/services/echo"
	"socketlab/services/internal/service"
)

func main() { service.Main(echo.Spec()) }
