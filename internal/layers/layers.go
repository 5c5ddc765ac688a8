// Package layers holds no code: its test keeps socketlab's layers pointing
// one way. The services and the helpers sit at the bottom, with the
// packages under internal/ they share; labctl sits on top of them and
// drives them. Nothing under services/ or helpers/, tests included, may
// import labctl: what both need (the packet decoder, the catalog, the
// client's result) lives under internal/.
package layers
