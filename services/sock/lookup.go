package main

import "socketlab/services/lookup"

func init() { commands = append(commands, lookup.ClientCommand()) }
