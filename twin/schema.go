package twin

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/edgehive/edgehive/internal/sqlitedb"
)

// migrations is the store's schema, one step per version. Append; never edit a released step.
func migrations() []sqlitedb.Migration {
	return []sqlitedb.Migration{{Name: "devices and twins", SQL: `
CREATE TABLE device (
	id          TEXT PRIMARY KEY,
	namespace   TEXT NOT NULL,
	name        TEXT NOT NULL,
	description TEXT NOT NULL DEFAULT '',
	state       TEXT NOT NULL DEFAULT 'unknown',
	last_online INTEGER NOT NULL DEFAULT 0,
	attributes  TEXT NOT NULL DEFAULT '{}'
) WITHOUT ROWID;
CREATE TABLE twin (
	device_id      TEXT NOT NULL REFERENCES device (id) ON DELETE CASCADE,
	name           TEXT NOT NULL,
	type           TEXT NOT NULL DEFAULT '',
	optional       INTEGER NOT NULL DEFAULT 1,
	desired        TEXT NOT NULL DEFAULT '',
	desired_ts     INTEGER NOT NULL DEFAULT 0,
	desired_cloud  INTEGER NOT NULL DEFAULT 0,
	desired_edge   INTEGER NOT NULL DEFAULT 0,
	reported       TEXT NOT NULL DEFAULT '',
	reported_ts    INTEGER NOT NULL DEFAULT 0,
	reported_cloud INTEGER NOT NULL DEFAULT 0,
	reported_edge  INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (device_id, name)
) WITHOUT ROWID;`}}
}

const (
	twinCols = `name, type, optional, desired, desired_ts, desired_cloud, desired_edge,
		reported, reported_ts, reported_cloud, reported_edge`
	sqlGetTwin      = `SELECT ` + twinCols + ` FROM twin WHERE device_id = ? AND name = ?`
	sqlDeviceTwins  = `SELECT ` + twinCols + ` FROM twin WHERE device_id = ? ORDER BY name`
	sqlAllTwins     = `SELECT device_id, ` + twinCols + ` FROM twin ORDER BY device_id, name`
	sqlDeviceExists = `SELECT 1 FROM device WHERE id = ?`
	sqlPutTwin      = `INSERT INTO twin (device_id, ` + twinCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (device_id, name) DO UPDATE SET type = excluded.type, optional = excluded.optional,
		desired = excluded.desired, desired_ts = excluded.desired_ts, desired_cloud = excluded.desired_cloud,
		desired_edge = excluded.desired_edge, reported = excluded.reported, reported_ts = excluded.reported_ts,
		reported_cloud = excluded.reported_cloud, reported_edge = excluded.reported_edge`
	deviceCols    = `id, namespace, name, description, state, last_online, attributes`
	sqlGetDevice  = `SELECT ` + deviceCols + ` FROM device WHERE id = ?`
	sqlAllDevices = `SELECT ` + deviceCols + ` FROM device ORDER BY id`
	sqlPutDevice  = `INSERT INTO device (` + deviceCols + `) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET description = excluded.description, state = excluded.state,
		last_online = excluded.last_online, attributes = excluded.attributes`
	sqlDeleteDevice = `DELETE FROM device WHERE id = ?`
	sqlDeleteTwin   = `DELETE FROM twin WHERE device_id = ? AND name = ?`
	sqlSetState     = `UPDATE device SET state = ?, last_online = ? WHERE id = ?`
)

// stmts are the writer's prepared statements, reused by every transaction.
type stmts struct {
	getTwin, deviceExists, putTwin *sql.Stmt
}

func prepare(ctx context.Context, db *sql.DB) (*stmts, error) {
	var s stmts
	var err error
	for _, p := range []struct {
		dst **sql.Stmt
		q   string
	}{{&s.getTwin, sqlGetTwin}, {&s.deviceExists, sqlDeviceExists}, {&s.putTwin, sqlPutTwin}} {
		if *p.dst, err = db.PrepareContext(ctx, p.q); err != nil {
			s.close()
			return nil, fmt.Errorf("twin: prepare: %w", sqlitedb.Classify(err))
		}
	}
	return &s, nil
}

func (s *stmts) close() {
	for _, st := range []*sql.Stmt{s.getTwin, s.deviceExists, s.putTwin} {
		if st != nil {
			_ = st.Close()
		}
	}
}

type scanner interface{ Scan(dest ...any) error }

func scanTwin(r scanner, prefix ...any) (Twin, error) {
	var t Twin
	dest := append(prefix, &t.Name, &t.Type, &t.Optional,
		&t.Desired.Value, &t.Desired.Timestamp, &t.Desired.Version.Cloud, &t.Desired.Version.Edge,
		&t.Reported.Value, &t.Reported.Timestamp, &t.Reported.Version.Cloud, &t.Reported.Version.Edge)
	err := r.Scan(dest...)
	return t, err
}

func twinArgs(deviceID string, t Twin) []any {
	return []any{deviceID, t.Name, t.Type, t.Optional,
		t.Desired.Value, t.Desired.Timestamp, t.Desired.Version.Cloud, t.Desired.Version.Edge,
		t.Reported.Value, t.Reported.Timestamp, t.Reported.Version.Cloud, t.Reported.Version.Edge}
}

// attrJSON is an attribute as stored in device.attributes.
type attrJSON struct {
	Value    string `json:"value"`
	Type     string `json:"type,omitempty"`
	Optional bool   `json:"optional,omitempty"`
}

func scanDevice(r scanner) (Device, error) {
	var d Device
	var id, attrs string
	var state string
	if err := r.Scan(&id, &d.Namespace, &d.Name, &d.Description, &state, &d.LastOnline, &attrs); err != nil {
		return Device{}, err
	}
	d.State = DeviceState(state)
	var m map[string]attrJSON
	if err := json.Unmarshal([]byte(attrs), &m); err != nil {
		return Device{}, fmt.Errorf("twin: device %s: stored attributes: %w", id, err)
	}
	if len(m) > 0 {
		d.Attributes = make(map[string]Attribute, len(m))
		for k, a := range m {
			d.Attributes[k] = Attribute(a)
		}
	}
	return d, nil
}

func attrsJSON(attrs map[string]Attribute) (string, error) {
	m := make(map[string]attrJSON, len(attrs))
	for k, a := range attrs {
		m[k] = attrJSON(a)
	}
	b, err := json.Marshal(m)
	return string(b), err
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// readDevice reads one device with its twins; ErrNotFound if it does not exist.
func readDevice(ctx context.Context, q querier, id string) (Device, error) {
	d, err := scanDevice(q.QueryRowContext(ctx, sqlGetDevice, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Device{}, fmt.Errorf("%w: device %s", ErrNotFound, id)
	}
	if err != nil {
		return Device{}, err
	}
	rows, err := q.QueryContext(ctx, sqlDeviceTwins, id)
	if err != nil {
		return Device{}, err
	}
	defer rows.Close()
	for rows.Next() {
		t, err := scanTwin(rows)
		if err != nil {
			return Device{}, err
		}
		d.Twins = append(d.Twins, t)
	}
	return d, rows.Err()
}
