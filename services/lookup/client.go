package lookup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"socketlab/internal/result"
	"socketlab/services/internal/probe"
	"socketlab/services/internal/service"
	"socketlab/services/lookup/frame"
)

// NewSearch returns a text/json request {"action": action, "value": value},
// encoded as the tutorial's client encodes it.
func NewSearch(action, value string) frame.Message {
	return frame.Message{
		Header:  frame.Header{ContentType: TypeJSON, ContentEncoding: EncodingUTF8},
		Content: frame.AppendObject(nil, "action", action, "value", value),
	}
}

// NewBinary returns a binary request carrying data with contentType
// (TypeClientBinary when empty).
func NewBinary(contentType string, data []byte) frame.Message {
	if contentType == "" {
		contentType = TypeClientBinary
	}
	return frame.Message{
		Header:  frame.Header{ContentType: contentType, ContentEncoding: EncodingBinary},
		Content: data,
	}
}

// ExchangeOptions tune one client exchange.
type ExchangeOptions struct {
	// Raw records the bytes on the wire in the result's details.
	Raw bool
	// Split sends the request this many bytes per write, 10ms apart, to show
	// that the framing survives any split (0: one write).
	Split int
}

// Exchange connects to a lookup server at target (host, host:port or
// [v6]:port; port 65432 by default), sends req, reads one response and
// closes, as the tutorial's client does. The result's Received is the
// response's "result" (text/json) or its content (binary); its details hold
// both headers, and "server_error" when the server sent an error response,
// which also makes the result fail.
func Exchange(ctx context.Context, o probe.Options, target string, req frame.Message, xo ExchangeOptions) *probe.Result {
	r := probe.New("lookup", "tcp", target)
	wire, err := frame.Append(nil, req)
	if err != nil {
		r.Fail(probe.Errorf(result.Usage, "%v", err))
		return r
	}
	r.Sent = printable(req.Content)
	req.Header.ContentLength = len(req.Content)
	if req.Header.ByteOrder == "" {
		req.Header.ByteOrder = frame.NativeByteOrder
	}
	r.Detail("request_header", headerDetail(req.Header))
	c, err := probe.Dial(ctx, o, r, "tcp", target, Port)
	if err != nil {
		r.Fail(err)
		return r
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if err := send(ctx, c, wire, xo.Split); err != nil {
		r.BytesSent = int64(len(wire))
		r.Fail(explain(ctx, err, r.Remote, o.Timeout))
		return r
	}
	r.BytesSent = int64(len(wire))
	if xo.Raw {
		r.Detail("wire_sent", wireDetail(wire))
	}

	var got bytes.Buffer
	fr := frame.NewReader(io.TeeReader(firstByte{c, r}, &got))
	m, err := fr.Next()
	r.BytesReceived = int64(got.Len())
	if xo.Raw && got.Len() > 0 {
		r.Detail("wire_received", wireDetail(got.Bytes()))
	}
	if err != nil {
		var pe *frame.PartialError
		switch {
		case errors.Is(err, io.EOF):
			r.Fail(probe.Errorf(result.Protocol, "%s closed the connection without answering", r.Remote))
		case errors.As(err, &pe), ctx.Err() != nil:
			// Cut short: by the server closing or resetting, or by our deadline.
			r.Fail(explain(ctx, err, r.Remote, o.Timeout))
		default:
			r.Fail(probe.Errorf(result.Protocol, "%s answered, but not in the lookup protocol: %v", r.Remote, strings.TrimPrefix(err.Error(), "frame: ")))
		}
		return r
	}
	r.Detail("response_header", headerDetail(m.Header))
	if m.Header.ContentType != TypeJSON {
		r.Received = printable(m.Content)
		return r
	}
	text, err := decodeText(m.Header.ContentEncoding, m.Header.ByteOrder, m.Content)
	var resp map[string]any
	if err == nil {
		err = json.Unmarshal(text, &resp)
	}
	if err != nil || resp == nil {
		r.Received = printable(m.Content)
		r.Fail(probe.Errorf(result.Protocol, "%s sent text/json content that is not a JSON object", r.Remote))
		return r
	}
	r.Detail("response", resp)
	r.Received, _ = resp["result"].(string)
	if kind, ok := resp["error"].(string); ok {
		r.Detail("server_error", kind)
		r.Fail(probe.Errorf(result.Protocol, "the server refused the request (%s)", kind))
	}
	return r
}

func send(ctx context.Context, c net.Conn, wire []byte, split int) error {
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	if split <= 0 {
		_, err := c.Write(wire)
		return err
	}
	for len(wire) > 0 {
		n := min(split, len(wire))
		if _, err := c.Write(wire[:n]); err != nil {
			return err
		}
		wire = wire[n:]
		if len(wire) > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	return nil
}

func explain(ctx context.Context, err error, addr string, timeout time.Duration) error {
	if ctx.Err() != nil {
		err = context.DeadlineExceeded
	}
	return probe.Explain(err, addr, timeout)
}

// firstByte records the time of the first byte of the response.
type firstByte struct {
	c net.Conn
	r *probe.Result
}

func (f firstByte) Read(p []byte) (int, error) {
	n, err := f.c.Read(p)
	if n > 0 {
		f.r.FirstByte()
	}
	return n, err
}

func headerDetail(h frame.Header) map[string]any {
	return map[string]any{
		frame.FieldByteOrder:       h.ByteOrder,
		frame.FieldContentType:     h.ContentType,
		frame.FieldContentEncoding: h.ContentEncoding,
		frame.FieldContentLength:   h.ContentLength,
	}
}

// wireDetail splits the bytes of one message as they went over the wire.
func wireDetail(b []byte) map[string]any {
	d := map[string]any{"bytes": len(b)}
	if len(b) < 2 {
		d["length_prefix"] = fmt.Sprintf("% x", b)
		return d
	}
	hl := int(b[0])<<8 | int(b[1])
	d["length_prefix"] = fmt.Sprintf("%02x %02x", b[0], b[1])
	d["header_length"] = hl
	rest := b[2:]
	d["header"] = printable(rest[:min(hl, len(rest))])
	if hl < len(rest) {
		d["content"] = printable(rest[hl:])
	}
	return d
}

// printable returns b as text when it is valid UTF-8 without control
// characters, and Go-quoted otherwise.
func printable(b []byte) string {
	if utf8.Valid(b) && strings.IndexFunc(string(b), func(r rune) bool { return unicode.IsControl(r) }) < 0 {
		return string(b)
	}
	return strconv.Quote(string(b))
}

// Check is the healthcheck: a search for "TCP" must come back with a result.
func Check(ctx context.Context, addr string) error {
	o := probe.Options{Timeout: 2 * time.Second, Source: service.HealthSource}
	if dl, ok := ctx.Deadline(); ok {
		o.Timeout = time.Until(dl)
	}
	r := Exchange(ctx, o, addr, NewSearch(ActionSearch, "TCP"), ExchangeOptions{})
	if r.ErrorKind == result.Unreachable {
		// Not Linux: only 127.0.0.1 is local. Check unmarked rather than not at all.
		o.Source = netip.Addr{}
		r = Exchange(ctx, o, addr, NewSearch(ActionSearch, "TCP"), ExchangeOptions{})
	}
	if r.Error != "" {
		return errors.New(r.Error)
	}
	if r.Received == "" {
		return errors.New("the answer has no result")
	}
	return nil
}

// ClientCommand is "sock lookup": one request, like the tutorial's
// app-client.py, printing the result.
func ClientCommand() *cobra.Command {
	var (
		o           probe.Options
		xo          ExchangeOptions
		action      string
		contentType string
	)
	cmd := &cobra.Command{
		Use:   "lookup HOST[:PORT] search TERM... | binary TEXT...",
		Short: "Send one framed request to a lookup server (TCP 65432) and print the answer",
		Long: "lookup speaks the sockets tutorial's framed protocol (a 2-byte big-endian length, a\n" +
			"JSON header, the content), like the tutorial's app-client.py HOST PORT ACTION VALUE:\n\n" +
			"  search TERM   sends text/json {\"action\": \"search\", \"value\": TERM} and prints the\n" +
			"                result; the server's glossary knows TCP, UDP, port, socket, IPv6...\n" +
			"  binary TEXT   sends \"binary\" followed by TEXT as binary/custom-client-binary-type\n" +
			"                content, as the tutorial's client does (app-client.py h p binary hello\n" +
			"                sends \"binaryhello\"), and prints the binary answer. TEXT '-' (or\n" +
			"                none) reads standard input.\n\n" +
			"Words after the action are joined with spaces. --raw shows the length prefix,\n" +
			"header and content of both messages as they crossed the wire. Exit status 1 when\n" +
			"the exchange failed or the server answered with an error response.",
		Example: "  sock lookup localhost search TCP\n" +
			"  sock lookup -6 --raw lookup search dual stack\n" +
			"  sock lookup 127.0.0.1:65432 binary hello\n" +
			"  sock lookup --action dance localhost search x    # an unknown action\n" +
			"  sock lookup --json lookup search IPv6",
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := o.Context(cmd.Context())
			defer cancel()
			req, err := buildRequest(args[1], args[2:], action, contentType, cmd.InOrStdin())
			if err != nil {
				r := probe.New("lookup", "tcp", args[0])
				r.Fail(err)
				return probe.Exit(r.Report(o, cmd.OutOrStdout(), cmd.ErrOrStderr(), nil))
			}
			r := Exchange(ctx, o, args[0], req, xo)
			return probe.Exit(r.Report(o, cmd.OutOrStdout(), cmd.ErrOrStderr(), func(w io.Writer) {
				if xo.Raw {
					writeRaw(w, r)
				}
				if r.Received != "" {
					fmt.Fprintln(w, r.Received)
				}
			}))
		},
	}
	o.Register(cmd.Flags())
	cmd.Flags().BoolVar(&xo.Raw, "raw", false, "show both messages as they crossed the wire: length prefix, JSON header, content")
	cmd.Flags().IntVar(&xo.Split, "split", 0, "send the request N bytes per write, 10ms apart (the framing must survive it)")
	cmd.Flags().StringVar(&action, "action", ActionSearch, "action name of a search request (try another to see the server's answer)")
	cmd.Flags().StringVar(&contentType, "content-type", TypeClientBinary, "content-type of a binary request")
	return cmd
}

func buildRequest(kind string, words []string, action, contentType string, stdin io.Reader) (frame.Message, error) {
	switch kind {
	case "search":
		if len(words) == 0 {
			return frame.Message{}, probe.Errorf(result.Usage, "search needs a TERM, e.g. sock lookup localhost search TCP")
		}
		return NewSearch(action, strings.Join(words, " ")), nil
	case "binary":
		data, err := probe.Input(words, stdin)
		if err != nil {
			return frame.Message{}, probe.Errorf(result.Usage, "read standard input: %w", err)
		}
		if contentType == TypeJSON {
			return frame.Message{}, probe.Errorf(result.Usage, "--content-type %s would not be binary; use search", TypeJSON)
		}
		// The tutorial's client sends its action and value run together.
		return NewBinary(contentType, append([]byte(kind), data...)), nil
	}
	return frame.Message{}, probe.Errorf(result.Usage, "unknown request %q: use search TERM or binary TEXT", kind)
}

// writeRaw prints both messages as they crossed the wire.
func writeRaw(w io.Writer, r *probe.Result) {
	for _, side := range []struct{ key, verb, dir string }{
		{"wire_sent", "sent", "to"}, {"wire_received", "received", "from"},
	} {
		d, ok := r.Details[side.key].(map[string]any)
		if !ok {
			continue
		}
		fmt.Fprintf(w, "%s %d bytes %s %s\n", side.verb, d["bytes"], side.dir, r.Remote)
		if hl, ok := d["header_length"]; ok {
			fmt.Fprintf(w, "  length   %s  (%d: the JSON header's size, big-endian)\n", d["length_prefix"], hl)
		} else {
			fmt.Fprintf(w, "  length   %s  (cut short)\n", d["length_prefix"])
		}
		if h, ok := d["header"]; ok {
			fmt.Fprintf(w, "  header   %s\n", h)
		}
		if c, ok := d["content"]; ok {
			fmt.Fprintf(w, "  content  %s\n", c)
		}
	}
}
