package main

import "socketlab/services/responder"

func init() { commands = append(commands, responder.ClientCommand()) }
