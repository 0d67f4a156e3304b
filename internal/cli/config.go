package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/trailsentry/trailsentry/internal/finding"
)

// config is the file --config names. Only suppressions live there today:
//
//	suppressions:
//	  - rule: 0187e9ae-225c-4af5-b5a1-92b299d26fef   # AccessDenied
//	    actor: "ci-deploy/*"
//	    source: 10.20.0.0/16
//	    reason: CI probes optional permissions (TICKET-123)
//	    expires: 2026-12-31
type config struct {
	Suppressions []finding.Suppression `yaml:"suppressions"`
}

// loadConfig reads and checks a config file; unknown keys are errors, so a
// typo does not silently leave a suppression out.
func loadConfig(path string, now time.Time) (*finding.Suppressions, []string, error) {
	if path == "" {
		return nil, nil, nil
	}
	var c config
	if err := decodeConfig(path, &c); err != nil {
		return nil, nil, err
	}
	s, notes, err := finding.NewSuppressions(c.Suppressions, now)
	if err != nil {
		return nil, nil, fmt.Errorf("--config %s: %w", path, err)
	}
	return s, notes, nil
}

// decodeConfig decodes the YAML file path into c, refusing unknown keys.
func decodeConfig(path string, c any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("--config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("--config %s: %w", path, err)
	}
	return nil
}
