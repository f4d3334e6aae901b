package stdio

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// BenchmarkRoundTrip: a tools/call round trip through this transport and,
// for comparison, through the go-sdk's IOTransport, over in-process pipes.
func BenchmarkRoundTrip(b *testing.B) {
	transports := map[string]func(in io.ReadCloser, out io.WriteCloser) mcp.Transport{
		"stdio": func(in io.ReadCloser, out io.WriteCloser) mcp.Transport {
			return &Transport{In: in, Out: out, Drain: time.Second}
		},
		"go-sdk": func(in io.ReadCloser, out io.WriteCloser) mcp.Transport {
			return &mcp.IOTransport{Reader: in, Writer: out}
		},
	}
	for _, name := range []string{"stdio", "go-sdk"} {
		b.Run(name, func(b *testing.B) {
			inR, inW := io.Pipe()
			outR, outW := io.Pipe()
			server := mcp.NewServer(&mcp.Implementation{Name: "t", Version: "0"}, nil)
			type echoIn struct {
				Text string `json:"text"`
			}
			mcp.AddTool(server, &mcp.Tool{Name: "echo"}, func(_ context.Context, _ *mcp.CallToolRequest, in echoIn) (*mcp.CallToolResult, struct{}, error) {
				return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: in.Text}}}, struct{}{}, nil
			})
			done := make(chan error, 1)
			go func() { done <- server.Run(context.Background(), transports[name](inR, outW)) }()
			ctx := context.Background()
			cs, err := mcp.NewClient(&mcp.Implementation{Name: "c", Version: "0"}, nil).Connect(ctx, &mcp.IOTransport{Reader: outR, Writer: inW}, nil)
			if err != nil {
				b.Fatal(err)
			}
			args := &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": "hello"}}
			b.ResetTimer()
			for b.Loop() {
				if _, err := cs.CallTool(ctx, args); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			_ = cs.Close()
			_ = inW.Close()
			<-done
		})
	}
}

func BenchmarkParse(b *testing.B) {
	line := []byte(`{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"name":"create_payment_onchain","arguments":{"amount_eur":20,"input_currency":"BTC","include_qr":false,"idempotency_key":"order-1234"}}}`)
	for b.Loop() {
		if _, bad := Parse(line); bad != nil {
			b.Fatal(bad.Message)
		}
	}
}
