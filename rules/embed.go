// Package rules is trailsentry's built-in rule pack: Sigma rules as data,
// embedded in the binary. Each rule carries a description for the person on
// call, its severity, ATT&CK techniques and false-positive notes.
package rules

import "embed"

// FS holds every rule of the pack, under cloudtrail/.
//
//go:embed cloudtrail/*.yml
var FS embed.FS
