package alert

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// httpSink is what the HTTP sinks share: a name, a client, and the secrets
// that must never appear in an error (a webhook URL is itself a credential:
// whoever has a Slack webhook URL can post to the channel).
type httpSink struct {
	name    string
	client  *http.Client
	secrets []string
}

// maxResponse bounds how much of a response is read.
const maxResponse = 1 << 20

// post sends body to target and returns the response body of a 2xx answer.
// Anything else is a *SendError classified by its status, carrying the
// Retry-After the server gave, with every secret scrubbed from its text.
func (h *httpSink) post(ctx context.Context, target string, header http.Header, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		// url.Parse errors quote the URL: say only that it is malformed.
		return nil, &SendError{Sink: h.name, Permanent: true, Msg: "the sink's URL is malformed"}
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", "trailsentry")
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return nil, &SendError{Sink: h.name, Msg: h.scrub(transportError(err))}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return nil, &SendError{Sink: h.name, Status: resp.StatusCode, Msg: h.scrub("reading the response: " + transportError(err))}
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return data, nil
	}
	return data, &SendError{
		Sink:       h.name,
		Status:     resp.StatusCode,
		Permanent:  statusPermanent(resp.StatusCode),
		RetryAfter: retryAfter(resp.Header.Get("Retry-After"), time.Now()),
		Msg:        h.scrub(snippet(data)),
	}
}

// transportError describes a failed round trip without the URL, which
// *url.Error puts in its text.
func transportError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "timed out"
	}
	return err.Error()
}

// scrub replaces every secret in s, and what looks like a URL of one, with
// a redacted form.
func (h *httpSink) scrub(s string) string {
	for _, sec := range h.secrets {
		if sec == "" {
			continue
		}
		s = strings.ReplaceAll(s, sec, redactURL(sec))
		// A server may echo parts of the URL back: hide each of them too,
		// the longest first.
		if u, err := url.Parse(sec); err == nil && u.Host != "" {
			for _, part := range []string{u.RequestURI(), u.EscapedPath(), u.Path, u.RawQuery} {
				if len(part) > 1 {
					s = strings.ReplaceAll(s, part, "[redacted]")
				}
			}
		}
	}
	return s
}

// redactURL keeps a URL's scheme and host and hides the rest: the path and
// query of a webhook URL are its secret. What is not a URL is hidden whole.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "[redacted]"
	}
	out := u.Scheme + "://" + u.Host
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		out += "/[redacted]"
	}
	return out
}

// snippet is the start of a response body, for an error message.
func snippet(data []byte) string {
	s := strings.TrimSpace(string(data))
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if r := []rune(s); len(r) > 200 {
		s = string(r[:200]) + "…"
	}
	if s == "" {
		return "empty response"
	}
	return s
}

// retryAfter reads a Retry-After header: seconds, or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		return time.Duration(min(n, 7*24*3600)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), 7*24*time.Hour)
	}
	return 0
}

// resolve resolves a secret for a sink, remembering it so that it is
// scrubbed from errors.
func (h *httpSink) resolve(s Secret) (string, error) {
	if !s.IsSet() {
		return "", nil
	}
	v, err := s.Resolve()
	if err != nil {
		return "", err
	}
	h.secrets = append(h.secrets, v)
	return v, nil
}
