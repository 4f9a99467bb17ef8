package broker

import (
	"bytes"
	"context"
	"log/slog"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// authHook adapts Config.Authenticate and Config.Authorize to mochi's hook interface. With neither set
// it allows everything (mochi denies by default when no hook answers).
type authHook struct {
	mqtt.HookBase
	authenticate func(ClientInfo, []byte) bool
	authorize    func(ClientInfo, string, bool) bool
}

func (h *authHook) ID() string { return "edgehive-auth" }

func (h *authHook) Provides(b byte) bool {
	return bytes.Contains([]byte{mqtt.OnConnectAuthenticate, mqtt.OnACLCheck}, []byte{b})
}

func clientInfo(cl *mqtt.Client) ClientInfo {
	return ClientInfo{ID: cl.ID, Username: string(cl.Properties.Username), Remote: cl.Net.Remote}
}

func (h *authHook) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	if h.authenticate == nil {
		return true
	}
	return h.authenticate(clientInfo(cl), pk.Connect.Password)
}

func (h *authHook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	if h.authorize == nil {
		return true
	}
	return h.authorize(clientInfo(cl), topic, write)
}

var _ mqtt.Hook = (*authHook)(nil)

// minLevel is a slog.Handler that passes records at or above min to h: the default logger, made quiet.
type minLevel struct {
	h   slog.Handler
	min slog.Level
}

func (m minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= m.min && m.h.Enabled(ctx, l)
}
func (m minLevel) Handle(ctx context.Context, r slog.Record) error { return m.h.Handle(ctx, r) }
func (m minLevel) WithAttrs(a []slog.Attr) slog.Handler            { return minLevel{m.h.WithAttrs(a), m.min} }
func (m minLevel) WithGroup(g string) slog.Handler                 { return minLevel{m.h.WithGroup(g), m.min} }
