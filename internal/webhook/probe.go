package webhook

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// probeKey is the only key of a probe body: {"cryptopay_probe":"<id>"}.
const probeKey = "cryptopay_probe"

// probeID recognises a probe body and returns its id.
func probeID(body []byte) (string, bool) {
	if len(body) > 200 || !bytes.Contains(body, []byte(probeKey)) {
		return "", false
	}
	var m map[string]string
	if err := json.Unmarshal(body, &m); err != nil || len(m) != 1 {
		return "", false
	}
	id, ok := m[probeKey]
	return id, ok && id != "" && len(id) <= 64
}

// Probe proves that webhookURL reaches a receiver holding key: it POSTs a
// signed probe with a fresh nonce through the URL (and so through any
// tunnel or proxy in front of it) and checks that the receiver answers 200
// with the probe's id and, when key is set, that it verified the
// signature. Nothing is stored by the receiver.
func Probe(ctx context.Context, client *http.Client, webhookURL string, key []byte, now time.Time) error {
	raw := make([]byte, 12)
	if _, err := rand.Read(raw); err != nil {
		return fmt.Errorf("probe id: %w", err)
	}
	id := hex.EncodeToString(raw)
	body, err := json.Marshal(map[string]string{probeKey: id})
	if err != nil {
		return fmt.Errorf("probe body: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, webhookURL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("probe request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if key != nil {
		nonce := strconv.FormatInt(now.Unix(), 10)
		req.Header.Set("X-NONCE", nonce)
		req.Header.Set("X-SIGNATURE", Sign(key, nonce, body))
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("the webhook URL is not reachable: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("the webhook URL answered HTTP %d instead of 200 (is it forwarding to this server's receiver? %.200s)", resp.StatusCode, b)
	}
	var got struct {
		Probe     string `json:"probe"`
		Validated bool   `json:"validated"`
	}
	if err := json.Unmarshal(b, &got); err != nil || got.Probe != id {
		return errors.New("the webhook URL answered 200 but not with this server's probe: it reaches another receiver")
	}
	if key != nil && !got.Validated {
		return errors.New("the receiver behind the webhook URL did not verify the signature")
	}
	return nil
}
