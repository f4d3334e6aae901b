package tunnel

import (
	"slices"
	"strings"
	"testing"
)

func TestZrokParser(t *testing.T) {
	tests := []struct {
		name   string
		lines  []string
		url    string
		fatal  string
		atLine int // index of the line that yields the result
	}{
		{name: "v1 logrus banner with escaped newline, API URL ignored",
			lines: []string{
				`time="x" level=info msg="using api endpoint https://api.zrok.io"`,
				`time="x" level=info msg="access your zrok share at the following endpoints:\n https://abc123.share.zrok.io"`,
			},
			url: "https://abc123.share.zrok.io", atLine: 1},
		{name: "zrok2 text: URL on the next line",
			lines: []string{
				"[   0.412]    INFO main.(*sharePublicCommand).shareLocal: access your zrok share at the following endpoints:",
				" https://hooks.shares.zrok.io",
			},
			url: "https://hooks.shares.zrok.io", atLine: 1},
		{name: "v1 reserved share",
			lines: []string{`time="x" level=info msg="sharing target: 'http://127.0.0.1:3000'"`, `time="x" level=info msg="access your zrok share: https://hooks.share.zrok.io"`},
			url:   "https://hooks.share.zrok.io", atLine: 1},
		{name: "zrok2 --subordinate boot",
			lines: []string{`{"level":"info","msg":"starting"}`, `{"msg":"boot","token":"t0k","frontend_endpoints":["https://t0k.shares.zrok.io"]}`},
			url:   "https://t0k.shares.zrok.io", atLine: 1},
		{name: "zrok2 --subordinate error",
			lines: []string{`{"msg":"error","error":"unable to create share: 401"}`},
			fatal: "unable to create share: 401"},
		{name: "zrok v1 --subordinate error",
			lines: []string{`{ "error": "unable to load environment" }`},
			fatal: "unable to load environment"},
		{name: "JSON log line carrying the banner",
			lines: []string{`{"level":"info","msg":"access your zrok share at the following endpoints:\n https://j.share.zrok.io","time":"x"}`},
			url:   "https://j.share.zrok.io"},
		{name: "ANSI colours stripped",
			lines: []string{"\x1b[32mINFO\x1b[0m access your zrok share at the following endpoints:", "\x1b[1m https://c.share.zrok.io\x1b[0m"},
			url:   "https://c.share.zrok.io", atLine: 1},
		{name: "no banner, no URL",
			lines: []string{"[ERROR]: see https://docs.zrok.io/ for help"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var z zrokParser
			for i, l := range tt.lines {
				u, fatal := z.feed(l)
				if u == "" && fatal == "" {
					continue
				}
				if u != tt.url || fatal != tt.fatal || i != tt.atLine {
					t.Fatalf("line %d: feed = (%q, %q); want (%q, %q) at line %d", i, u, fatal, tt.url, tt.fatal, tt.atLine)
				}
				return
			}
			if tt.url != "" || tt.fatal != "" {
				t.Fatalf("nothing found; want (%q, %q)", tt.url, tt.fatal)
			}
		})
	}
}

func TestZrokArgs(t *testing.T) {
	const local = "http://127.0.0.1:3000"
	tests := []struct {
		bin, name string
		want      []string
	}{
		{"/usr/bin/zrok", "", []string{"share", "public", local, "--headless"}},
		{"zrok", "bitnovo-webhooks", []string{"share", "reserved", "bitnovo-webhooks", "--headless"}},
		{"/opt/zrok2", "", []string{"share", "public", local, "--subordinate"}},
		{"zrok2", "hooks", []string{"share", "public", local, "--subordinate", "--name-selection", "public:hooks"}},
		{"zrok2", "myns:hooks", []string{"share", "public", local, "--subordinate", "--name-selection", "myns:hooks"}},
	}
	for _, tt := range tests {
		if got := zrokArgs(tt.bin, local, tt.name); !slices.Equal(got, tt.want) {
			t.Errorf("zrokArgs(%q, %q) = %q; want %q", tt.bin, tt.name, got, tt.want)
		}
	}
}

func TestIsNotEnabled(t *testing.T) {
	for s, want := range map[string]bool{
		"[ERROR]: unable to load environment; did you 'zrok enable'?":                 true,
		"unable to create share: unable to load environment; did you 'zrok2 enable'?": true,
		"environment not enabled":                true,
		"[ERROR]: unable to create share (boom)": false,
		"the zrok service returned an error: [POST /share][401] shareUnauthorized (not auth)": false,
	} {
		if got := isNotEnabled(s); got != want {
			t.Errorf("isNotEnabled(%q) = %v", s, got)
		}
	}
}

func TestLineWriter(t *testing.T) {
	var got []string
	w := &lineWriter{fn: func(s string) { got = append(got, s) }}
	_, _ = w.Write([]byte("a\r\nb"))
	_, _ = w.Write([]byte("c\n\nd"))
	if want := []string{"a", "bc", ""}; !slices.Equal(got, want) {
		t.Fatalf("lines = %q; want %q", got, want)
	}
	_, _ = w.Write([]byte(strings.Repeat("x", 70<<10)))
	if len(got) != 4 {
		t.Fatalf("runaway line not flushed: %d lines", len(got))
	}
}
