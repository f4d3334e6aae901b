package tunnel

import "time"

// State is a tunnel's connection state.
type State string

// The states get_tunnel_status reports.
const (
	StateDisconnected State = "disconnected" // not started, stopped, or nothing to run
	StateConnecting   State = "connecting"   // first connect in progress
	StateConnected    State = "connected"    // public URL available and healthy
	StateReconnecting State = "reconnecting" // lost or failed; retrying with backoff
	StateError        State = "error"        // gave up after MaxRetries
)

// Status is the get_tunnel_status payload.
type Status struct {
	Enabled            bool             `json:"enabled"`
	Provider           string           `json:"provider"`
	Status             State            `json:"status"`
	PublicURL          *string          `json:"public_url"`
	ConnectedAt        *string          `json:"connected_at"`
	LastError          *string          `json:"last_error"`
	ReconnectAttempts  int              `json:"reconnect_attempts"`
	HealthCheckEnabled bool             `json:"health_check_enabled"`
	ContextDetected    *ContextDetected `json:"context_detected,omitempty"`
}

// ContextDetected is the detection summary inside Status.
type ContextDetected struct {
	ExecutionContext  string   `json:"execution_context"`
	Confidence        float64  `json:"confidence"`
	SuggestedProvider string   `json:"suggested_provider"`
	Indicators        []string `json:"indicators"`
}

// isoMillis is JavaScript's Date.toISOString layout, as the seed shows it.
const isoMillis = "2006-01-02T15:04:05.000Z"

func formatISO(t time.Time) string { return t.UTC().Format(isoMillis) }

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
