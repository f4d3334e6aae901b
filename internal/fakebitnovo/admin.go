package fakebitnovo

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/loopback"
)

// Admin surface (JSON, no X-Device-Id, loopback clients only):
//
//	GET    /_sandbox/faults                   list active faults
//	POST   /_sandbox/faults                   add {"method","path","status","body","retry_after","delay_ms","times","shape"}
//	DELETE /_sandbox/faults                   clear faults
//	GET    /_sandbox/orders                   all orders (array of OrderInfo)
//	GET    /_sandbox/orders/{id}              one order
//	POST   /_sandbox/orders/{id}/pay          {"outcome":"full"}
//	POST   /_sandbox/orders/{id}/status       {"status":"CO"}
//	POST   /_sandbox/orders/{id}/currency     {"symbol":"ETH"}
//	GET    /_sandbox/requests?method=&path=   {"count":N}
//	GET    /_sandbox/webhook                  {"notification_url","device_secret","stats"}
//	PUT    /_sandbox/webhook                  {"notification_url","device_secret"} (either may be omitted: unchanged; "" disables)
//	GET    /_sandbox/webhook/deliveries       {"deliveries":[Delivery…],"stats":WebhookStats}
//
// Requests from non-loopback addresses, requests carrying proxy headers
// (a tunnel in front of the fake) and POSTs that are not application/json
// (a cross-site form) are refused with 403 / 415. The checkout page's
// POST /{shortid}/simulate follows the same rules.

// localOnly answers 403 and reports false unless r comes straight from
// loopback (no proxy headers).
func localOnly(w http.ResponseWriter, r *http.Request) bool {
	if !loopback.Addr(r.RemoteAddr) || r.Header.Get("X-Forwarded-For") != "" || r.Header.Get("Forwarded") != "" {
		writeError(w, http.StatusForbidden, "FORBIDDEN", "The sandbox admin API is only available from loopback.")
		return false
	}
	return true
}

func (s *Server) serveAdmin(w http.ResponseWriter, r *http.Request) {
	if !localOnly(w, r) {
		return
	}
	p := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/_sandbox"), "/")
	switch {
	case p == "/faults":
		s.adminFaults(w, r)
	case p == "/orders":
		if allowMethods(w, r, http.MethodGet) {
			writeJSON(w, http.StatusOK, s.Orders())
		}
	case p == "/requests":
		if allowMethods(w, r, http.MethodGet) {
			q := r.URL.Query()
			writeJSON(w, http.StatusOK, map[string]int{"count": s.Requests(q.Get("method"), q.Get("path"))})
		}
	case strings.HasPrefix(p, "/orders/"):
		s.adminOrder(w, r, strings.TrimPrefix(p, "/orders/"))
	case p == "/webhook":
		s.adminWebhook(w, r)
	case p == "/webhook/deliveries":
		if allowMethods(w, r, http.MethodGet) {
			writeJSON(w, http.StatusOK, map[string]any{"deliveries": s.Deliveries(), "stats": s.WebhookStats()})
		}
	default:
		writeNotFound(w)
	}
}

// decodeAdminJSON reads a JSON object body into v, strictly.
func decodeAdminJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE", "Content-Type must be application/json.")
		return false
	}
	body, aerr := readBody(r)
	if aerr != nil {
		aerr.write(w)
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "PARSE_ERROR", fmt.Sprintf("Invalid JSON body: %v", err))
		return false
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		writeError(w, http.StatusBadRequest, "PARSE_ERROR", "Invalid JSON body: trailing data.")
		return false
	}
	return true
}

func (s *Server) adminFaults(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		list := s.Faults()
		out := make([]faultJSON, 0, len(list))
		for _, f := range list {
			out = append(out, f.toJSON())
		}
		writeJSON(w, http.StatusOK, out)
	case http.MethodPost:
		var j faultJSON
		if !decodeAdminJSON(w, r, &j) {
			return
		}
		f, err := j.fault()
		if err != nil {
			writeError(w, http.StatusBadRequest, "INVALID_FAULT", err.Error())
			return
		}
		s.AddFault(f)
		writeJSON(w, http.StatusCreated, f.toJSON())
	case http.MethodDelete:
		s.ClearFaults()
		writeJSON(w, http.StatusOK, map[string]string{"status": "cleared"})
	default:
		allowMethods(w, r, http.MethodGet, http.MethodPost, http.MethodDelete)
	}
}

func (s *Server) adminOrder(w http.ResponseWriter, r *http.Request, rest string) {
	id, action, _ := strings.Cut(rest, "/")
	if action == "" {
		if !allowMethods(w, r, http.MethodGet) {
			return
		}
		inf, err := s.Order(id)
		if err != nil {
			writeAdminErr(w, err)
			return
		}
		writeJSON(w, http.StatusOK, inf)
		return
	}
	switch action {
	case "pay", "status", "currency":
	default:
		writeNotFound(w)
		return
	}
	if !allowMethods(w, r, http.MethodPost) {
		return
	}
	var body struct {
		Outcome string `json:"outcome"`
		Status  string `json:"status"`
		Symbol  string `json:"symbol"`
	}
	if !decodeAdminJSON(w, r, &body) {
		return
	}
	var err error
	switch action {
	case "pay":
		err = s.Pay(id, body.Outcome)
	case "status":
		err = s.SetStatus(id, body.Status)
	case "currency":
		err = s.SelectCurrency(id, body.Symbol)
	}
	if err == nil {
		var inf OrderInfo
		if inf, err = s.Order(id); err == nil {
			writeJSON(w, http.StatusOK, inf)
			return
		}
	}
	writeAdminErr(w, err)
}

func writeAdminErr(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, ErrNotFound):
		writeError(w, http.StatusNotFound, "NOT_FOUND", err.Error())
	case errors.Is(err, ErrInvalidTransition), errors.Is(err, ErrAmountOutOfRange):
		writeError(w, http.StatusConflict, "INVALID_TRANSITION", err.Error())
	default:
		writeError(w, http.StatusBadRequest, "BAD_REQUEST", err.Error())
	}
}

// webhookJSON is the admin view of the webhook setting.
type webhookJSON struct {
	WebhookConfig
	Stats WebhookStats `json:"stats"`
}

func (s *Server) adminWebhook(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodPut, http.MethodPost:
		var body struct {
			NotificationURL *string `json:"notification_url"`
			DeviceSecret    *string `json:"device_secret"`
		}
		if !decodeAdminJSON(w, r, &body) {
			return
		}
		c := s.WebhookConfig()
		if body.NotificationURL != nil {
			c.NotificationURL = *body.NotificationURL
		}
		if body.DeviceSecret != nil {
			c.DeviceSecret = *body.DeviceSecret
		}
		if err := s.SetWebhookConfig(c); err != nil {
			writeError(w, http.StatusBadRequest, "INVALID_WEBHOOK_CONFIG", err.Error())
			return
		}
	default:
		allowMethods(w, r, http.MethodGet, http.MethodPut, http.MethodPost)
		return
	}
	writeJSON(w, http.StatusOK, webhookJSON{s.WebhookConfig(), s.WebhookStats()})
}
