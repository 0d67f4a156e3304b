package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
)

// FileConfig is a JSON Lines file findings are appended to.
type FileConfig struct {
	Path string `yaml:"path"`
}

// FileSink appends one finding per line (the `scan --format jsonl` schema)
// to a file, opened for each batch so that a rotated file is followed, and
// synced to disk before the batch counts as delivered.
type FileSink struct {
	name string
	path string
	mu   sync.Mutex
}

func (s *FileSink) Name() string { return s.name }

// Send appends the batch and fsyncs the file.
func (s *FileSink) Send(ctx context.Context, batch []Delivery) error {
	body, err := jsonLines(batch)
	if err != nil {
		return &SendError{Sink: s.name, Permanent: true, Msg: err.Error()}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := os.OpenFile(s.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return &SendError{Sink: s.name, Msg: err.Error()}
	}
	_, werr := f.Write(body)
	serr := f.Sync()
	cerr := f.Close()
	for _, err := range []error{werr, serr, cerr} {
		if err != nil {
			return &SendError{Sink: s.name, Msg: fmt.Sprintf("%s: %v", s.path, unwrapPath(err))}
		}
	}
	return nil
}

// WriterSink writes one finding per line to a stream: stdout.
type WriterSink struct {
	name string
	w    io.Writer
	mu   sync.Mutex
}

func (s *WriterSink) Name() string { return s.name }

// Send writes the batch in one write.
func (s *WriterSink) Send(ctx context.Context, batch []Delivery) error {
	body, err := jsonLines(batch)
	if err != nil {
		return &SendError{Sink: s.name, Permanent: true, Msg: err.Error()}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.w.Write(body); err != nil {
		return &SendError{Sink: s.name, Msg: err.Error()}
	}
	return nil
}

func jsonLines(batch []Delivery) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	for _, d := range batch {
		if err := enc.Encode(d.Finding); err != nil {
			return nil, fmt.Errorf("finding %s: %w", d.Finding.ID, err)
		}
	}
	return buf.Bytes(), nil
}
