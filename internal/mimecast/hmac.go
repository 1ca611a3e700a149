package mimecast

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1" //nolint:gosec // API 1.0 mandates HMAC-SHA1.
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// API 1.0 request headers.
const (
	HeaderMCDate  = "x-mc-date"
	HeaderMCReqID = "x-mc-req-id"
	HeaderMCAppID = "x-mc-app-id"
)

// mcDateLayout is the x-mc-date format: RFC 1123 style in UTC, literally ending in "UTC".
const mcDateLayout = "Mon, 02 Jan 2006 15:04:05 UTC"

// HMACConfig holds API 1.0 credentials: the registered application's id and key, and the access/secret key
// binding of the service user.
type HMACConfig struct {
	AppID     string
	AppKey    string
	AccessKey string
	// SecretKey is base64 as issued by Mimecast.
	SecretKey string
}

// HMACSigner is the API 1.0 Authorizer: it signs each request with HMAC-SHA1 over
// "x-mc-date:x-mc-req-id:path:appKey" and sends "Authorization: MC accessKey:signature".
// Use it with WithAuthorizer.
type HMACSigner struct {
	appID     string
	appKey    string
	accessKey string
	key       []byte
	now       func() time.Time
	newID     func() string
}

// NewHMACSigner validates cfg and builds a signer. now defaults to time.Now; newID (the x-mc-req-id source)
// defaults to random GUIDs.
func NewHMACSigner(cfg HMACConfig, now func() time.Time, newID func() string) (*HMACSigner, error) {
	if cfg.AppID == "" || cfg.AppKey == "" || cfg.AccessKey == "" || cfg.SecretKey == "" {
		return nil, errors.New("mimecast hmac: app id, app key, access key and secret key are required")
	}
	key, err := base64.StdEncoding.DecodeString(cfg.SecretKey)
	if err != nil {
		return nil, errors.New("mimecast hmac: secret key is not valid base64")
	}
	if now == nil {
		now = time.Now
	}
	if newID == nil {
		newID = newGUID
	}
	return &HMACSigner{appID: cfg.AppID, appKey: cfg.AppKey, accessKey: cfg.AccessKey, key: key, now: now, newID: newID}, nil
}

// Signature returns base64(HMAC-SHA1(secret, date+":"+reqID+":"+uri+":"+appKey)), uri being the request path
// without host or query.
func (s *HMACSigner) Signature(date, reqID, uri string) string {
	mac := hmac.New(sha1.New, s.key)
	mac.Write([]byte(date + ":" + reqID + ":" + uri + ":" + s.appKey))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// Authorize implements Authorizer: it sets the x-mc-* headers and the MC Authorization header.
func (s *HMACSigner) Authorize(_ context.Context, req *http.Request) error {
	date := s.now().UTC().Format(mcDateLayout)
	reqID := s.newID()
	req.Header.Set(HeaderMCDate, date)
	req.Header.Set(HeaderMCReqID, reqID)
	req.Header.Set(HeaderMCAppID, s.appID)
	req.Header.Set("Authorization", "MC "+s.accessKey+":"+s.Signature(date, reqID, req.URL.Path))
	return nil
}

// Invalidate implements Authorizer. Signed requests carry no cached credential; the repeat gets a fresh date and
// request id, which fixes a request rejected for those, and fails again for wrong keys.
func (s *HMACSigner) Invalidate(*http.Request) {}

// newGUID returns a random (version 4) GUID in upper case, the form Mimecast's examples use.
func newGUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%X-%X-%X-%X-%X", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
