package finding

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
)

// Options tune the writers. The zero value is fine for every format.
type Options struct {
	Width   int    // table: columns available; 0 means DefaultWidth
	Color   bool   // table: ANSI colour (the CLI sets it only for a terminal)
	Version string // ocsf: trailsentry's version, for metadata.product.version
}

// DefaultWidth is the table's width when Options.Width is not set.
const DefaultWidth = 100

// WriteFunc writes findings (and, for the formats that show it, the run
// summary, which may be nil) in one output format.
type WriteFunc func(w io.Writer, findings []*Finding, sum *Summary, opts Options) error

// Formats lists the output format names Writer accepts.
func Formats() []string { return []string{"table", "json", "jsonl", "ocsf"} }

// Writer returns the writer of a format named by Formats.
func Writer(format string) (WriteFunc, error) {
	switch format {
	case "table":
		return WriteTable, nil
	case "json":
		return WriteJSON, nil
	case "jsonl":
		return WriteJSONL, nil
	case "ocsf":
		return WriteOCSF, nil
	}
	return nil, fmt.Errorf("unknown output format %q: want table, json, jsonl or ocsf", format)
}

// WriteJSON writes one JSON document:
// {"schema_version": ..., "findings": [...], "summary": {...}}.
// Findings are encoded one at a time, so a large result is never held in
// memory a second time as one encoded document.
func WriteJSON(w io.Writer, findings []*Finding, sum *Summary, _ Options) error {
	if sum == nil {
		sum = &Summary{}
	}
	bw := bufio.NewWriter(w)
	var one bytes.Buffer
	enc := json.NewEncoder(&one)
	enc.SetEscapeHTML(false)
	// encode writes v indented at the given depth, without json.Encoder's
	// closing newline.
	encode := func(v any, prefix string) error {
		one.Reset()
		enc.SetIndent(prefix, "  ")
		if err := enc.Encode(v); err != nil {
			return err
		}
		bw.Write(bytes.TrimSuffix(one.Bytes(), []byte("\n")))
		return nil
	}
	fmt.Fprintf(bw, "{\n  \"schema_version\": %q,\n  \"findings\": [", SchemaVersion)
	for i, f := range findings {
		if i > 0 {
			bw.WriteString(",")
		}
		bw.WriteString("\n    ")
		if err := encode(f, "    "); err != nil {
			return fmt.Errorf("write json: finding %s: %w", f.ID, err)
		}
	}
	if len(findings) > 0 {
		bw.WriteString("\n  ")
	}
	bw.WriteString("],\n  \"summary\": ")
	if err := encode(sum, "  "); err != nil {
		return fmt.Errorf("write json: summary: %w", err)
	}
	bw.WriteString("\n}\n")
	return bw.Flush()
}

// WriteJSONL writes one finding per line, as compact JSON. The summary is not
// written: every line is a finding.
func WriteJSONL(w io.Writer, findings []*Finding, _ *Summary, _ Options) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	for _, f := range findings {
		if err := enc.Encode(f); err != nil {
			return fmt.Errorf("write jsonl: finding %s: %w", f.ID, err)
		}
	}
	return bw.Flush()
}
