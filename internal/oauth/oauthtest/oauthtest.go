// Package oauthtest is an in-process OAuth authorization server for tests:
// its own RSA and EC keys, a JWKS endpoint that can rotate, RFC 8414
// metadata, and a minter for access tokens good and bad. It serves on
// loopback only.
package oauthtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

// Server is a test authorization server.
type Server struct {
	HTTP *httptest.Server
	// Issuer is the iss of every token and of the metadata.
	Issuer string

	mu      sync.Mutex
	clients map[string]string          // client_credentials clients: id → secret
	rsa     map[string]*rsa.PrivateKey // kid → key, published in the JWKS
	ec      *ecdsa.PrivateKey          // kid "ec-1"
	hidden  map[string]*rsa.PrivateKey // minted with but not (yet) published
	fetches atomic.Int64
}

// Start serves a new authorization server with one RSA key ("rsa-1") and
// one EC key ("ec-1"). Close it with s.HTTP.Close.
func Start() (*Server, error) {
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("rsa key: %w", err)
	}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("ec key: %w", err)
	}
	s := &Server{rsa: map[string]*rsa.PrivateKey{"rsa-1": rk}, ec: ek, hidden: map[string]*rsa.PrivateKey{},
		clients: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/oauth-authorization-server", s.metadata)
	mux.HandleFunc("/jwks", s.jwks)
	mux.HandleFunc("/token", s.token)
	// Fields first, then serve: handlers read them.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	s.HTTP = httptest.NewUnstartedServer(mux)
	_ = s.HTTP.Listener.Close()
	s.HTTP.Listener = ln
	s.Issuer = "http://" + ln.Addr().String()
	s.HTTP.Start()
	return s, nil
}

// AddClient registers a client_credentials client for the token endpoint
// (client_secret_basic or client_secret_post).
func (s *Server) AddClient(id, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clients[id] = secret
}

// JWKSURL is the key set's address.
func (s *Server) JWKSURL() string { return s.HTTP.URL + "/jwks" }

// Fetches counts the JWKS requests served.
func (s *Server) Fetches() int64 { return s.fetches.Load() }

func (s *Server) metadata(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"issuer":                                s.Issuer,
		"authorization_endpoint":                s.Issuer + "/authorize",
		"token_endpoint":                        s.Issuer + "/token",
		"jwks_uri":                              s.JWKSURL(),
		"response_types_supported":              []string{"code"},
		"code_challenge_methods_supported":      []string{"S256"},
		"grant_types_supported":                 []string{"authorization_code", "client_credentials"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
	})
}

// token is a client_credentials token endpoint (RFC 6749 §4.4) that
// honours RFC 8707's resource parameter: the token's aud is the resource
// asked for, its sub and client_id the client, its scope the one asked for.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.ParseForm() != nil {
		http.Error(w, `{"error":"invalid_request"}`, http.StatusBadRequest)
		return
	}
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	s.mu.Lock()
	want, known := s.clients[id]
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if !known || secret != want {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error":"invalid_client"}`))
		return
	}
	if r.PostForm.Get("grant_type") != "client_credentials" {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"unsupported_grant_type"}`))
		return
	}
	t := Token{Subject: id, ClientID: id, Scope: r.PostForm.Get("scope")}
	if res := r.PostForm["resource"]; len(res) > 0 {
		t.Audience = res
	}
	tok, err := s.Mint(t)
	if err != nil {
		http.Error(w, `{"error":"server_error"}`, http.StatusInternalServerError)
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": 3600, "scope": t.Scope})
}

func (s *Server) jwks(w http.ResponseWriter, _ *http.Request) {
	s.fetches.Add(1)
	s.mu.Lock()
	var keys []jwkset.JWKMarshal
	add := func(key any, kid string, alg jwkset.ALG) {
		j, err := jwkset.NewJWKFromKey(key, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: kid, ALG: alg, USE: jwkset.UseSig}})
		if err == nil {
			keys = append(keys, j.Marshal())
		}
	}
	for kid, k := range s.rsa {
		add(&k.PublicKey, kid, jwkset.AlgRS256)
	}
	add(&s.ec.PublicKey, "ec-1", jwkset.AlgES256)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"keys": keys})
}

// NewHiddenKey makes an RSA key with id kid that tokens can be signed
// with (Token.KID) but that the JWKS does not publish until Publish.
func (s *Server) NewHiddenKey(kid string) error {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return fmt.Errorf("rsa key: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hidden[kid] = k
	return nil
}

// Publish adds a hidden key to the JWKS (key rotation).
func (s *Server) Publish(kid string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k, ok := s.hidden[kid]; ok {
		s.rsa[kid] = k
	}
}

// PublicKeyBytes returns the published RSA key's modulus bytes, the raw
// material an attacker would use as an HMAC secret.
func (s *Server) PublicKeyBytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rsa["rsa-1"].PublicKey.N.Bytes()
}

// Token describes an access token to mint. Zero fields take defaults:
// issuer s.Issuer, subject "alice", client "agent-1", expiry in an hour,
// RS256 with key "rsa-1".
type Token struct {
	Issuer    string
	Audience  []string
	Subject   string
	ClientID  string
	Scope     string
	Expires   time.Time
	NotBefore time.Time
	KID       string // "ec-1" signs ES256; a hidden key's id signs with it
	Alg       string // "none" or "HS256-public" for attacks; "" normal
	NoSubject bool
	Extra     map[string]any
	Header    map[string]any // extra JOSE header fields (typ, crit, …); a nil value removes one
}

// Mint signs t.
func (s *Server) Mint(t Token) (string, error) {
	now := time.Now()
	c := jwt.MapClaims{"iss": s.Issuer, "sub": "alice", "client_id": "agent-1", "iat": now.Add(-time.Minute).Unix(),
		"exp": now.Add(time.Hour).Unix(), "jti": fmt.Sprint(now.UnixNano())}
	if t.Issuer != "" {
		c["iss"] = t.Issuer
	}
	if len(t.Audience) > 0 {
		c["aud"] = t.Audience
	}
	if t.Subject != "" {
		c["sub"] = t.Subject
	}
	if t.NoSubject {
		delete(c, "sub")
	}
	if t.ClientID != "" {
		c["client_id"] = t.ClientID
	}
	if t.Scope != "" {
		c["scope"] = t.Scope
	}
	if !t.Expires.IsZero() {
		c["exp"] = t.Expires.Unix()
	}
	if !t.NotBefore.IsZero() {
		c["nbf"] = t.NotBefore.Unix()
	}
	for k, v := range t.Extra {
		c[k] = v
	}
	switch t.Alg {
	case "none":
		tok := jwt.NewWithClaims(jwt.SigningMethodNone, c)
		tok.Header["kid"] = "rsa-1"
		return tok.SignedString(jwt.UnsafeAllowNoneSignatureType)
	case "HS256-public":
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, c)
		tok.Header["kid"] = "rsa-1"
		return tok.SignedString(s.PublicKeyBytes())
	}
	kid := t.KID
	if kid == "" {
		kid = "rsa-1"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if kid == "ec-1" {
		tok := jwt.NewWithClaims(jwt.SigningMethodES256, c)
		tok.Header["kid"] = kid
		setHeader(tok, t.Header)
		return tok.SignedString(s.ec)
	}
	k := s.rsa[kid]
	if k == nil {
		k = s.hidden[kid]
	}
	if k == nil {
		return "", fmt.Errorf("no key %q", kid)
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
	tok.Header["kid"] = kid
	setHeader(tok, t.Header)
	return tok.SignedString(k)
}

func setHeader(tok *jwt.Token, h map[string]any) {
	for k, v := range h {
		if v == nil {
			delete(tok.Header, k)
			continue
		}
		tok.Header[k] = v
	}
}
