package loopback

import "testing"

func TestLoopback(t *testing.T) {
	tests := []struct {
		in         string
		host, addr bool
	}{
		{"localhost", true, false},
		{"LocalHost", true, false},
		{"127.0.0.1", true, true},
		{"127.8.9.10", true, true},
		{"::1", true, true},
		{"127.0.0.1:8080", false, true},
		{"[::1]:443", false, true},
		{"10.0.0.1", false, false},
		{"10.0.0.1:80", false, false},
		{"0.0.0.0", false, false},
		{"localhost.example.com", false, false},
		{"", false, false},
	}
	for _, tt := range tests {
		if got := Host(tt.in); got != tt.host {
			t.Errorf("Host(%q) = %t", tt.in, got)
		}
		if got := Addr(tt.in); got != tt.addr {
			t.Errorf("Addr(%q) = %t", tt.in, got)
		}
	}
}
