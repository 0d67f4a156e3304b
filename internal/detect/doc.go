// Package detect is the rule engine: it loads Sigma rules, compiles each
// once into a tree of matchers, indexes them by eventName/eventSource, and
// matches CloudTrail events against them.
//
// It implements the Sigma rules specification 2.0 and the modifiers
// appendix 2.1 for JSON events, SigmaHQ's CloudTrail rules loading
// unmodified. The files follow the pipeline:
//
//	rule.go       Rule, the YAML loaders (ParseRules, LoadPath, LoadFS), load errors
//	detection.go  search identifiers: maps, lists, keywords, field items
//	modifier.go   value modifiers and the Sigma string syntax (wildcards, escapes)
//	value.go      the matchers one rule value compiles into
//	glob.go       case folding and wildcard matching without regexp
//	keyword.go    full-event keyword search
//	condition.go  the condition language: parser and binding to identifiers
//	node.go       the compiled condition tree and field semantics
//	engine.go     the index and Engine.Match
//	correlation.go       Sigma correlation rules: parsing and linking to base rules
//	correlation_eval.go  their event-time windows, evaluated on State
//	state.go, state_memory.go  the State detections keep across events
//
// Where the specification leaves the meaning to the backend, this package
// chooses as follows (each is also documented where it is implemented):
//
//   - Strings match case-insensitively (Unicode simple folding) unless
//     `cased`; regular expressions are case-sensitive unless `re|i`, as the
//     specification says, and search the value unanchored (SIEM regex
//     search); `re|startswith` / `re|endswith` anchor it.
//   - A field path is dotted JSON keys, case-sensitive. A list in the event
//     matches when any element matches; an object or array compared with a
//     string compares its compact JSON text, and a contains-style pattern
//     (`*x*`) also searches the strings nested in it, decoded — CloudTrail
//     embeds policies as JSON strings whose quotes the text escapes.
//   - `field: null` matches a missing or null field; `exists` checks presence
//     (null counts as present); `neq` needs a present, differing value.
//   - Numbers in rules match numbers or numeric strings of equal value, and
//     their own literal text.
//   - Keywords (plain values in a list) are substring searches over every
//     string, number and boolean value of the event, at any depth; object
//     keys are not searched.
//   - `fieldref` compares case-insensitively unless cased, and combines with
//     contains/startswith/endswith and neq.
//   - Time modifiers read the field as RFC 3339 in UTC; `week` is the ISO
//     week.
//   - `expand`, filters and `action:` collections are rejected at load with
//     the reason; nothing is ever dropped silently. Correlation rules load
//     through ParsePack/LoadPack* (docs/correlation.md); ParseRules alone
//     still reports them as unsupported.
//   - A rule without a level is medium. `all` on a single value is accepted
//     (it changes nothing), though the specification discourages it.
package detect
