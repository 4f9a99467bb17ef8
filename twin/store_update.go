package twin

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Change is one update of one twin of one device, for Store.Update.
type Change struct {
	DeviceID string
	Twin     string
	// Type is the type of a twin this change creates; ignored when the twin exists.
	Type string
	Update
}

// Result is what a Change did: its outcome (see Apply) and the twin before and after. Before is the zero
// Twin when the twin did not exist; After equals Before unless the outcome is Applied.
type Result struct {
	DeviceID string
	Outcome  Outcome
	Before   Twin
	After    Twin
}

// Created reports whether the change created the twin.
func (r Result) Created() bool { return r.Before.Name == "" && r.After.Name != "" }

func (c Change) validate() error {
	switch {
	case !ValidDeviceID(c.DeviceID):
		return fmt.Errorf("%w: device id %q", ErrInvalid, truncate(c.DeviceID))
	case !ValidTwinName(c.Twin):
		return fmt.Errorf("%w: device %s: twin name %q", ErrInvalid, c.DeviceID, truncate(c.Twin))
	case !ValidType(c.Type):
		return fmt.Errorf("%w: device %s: twin %s: unknown type %q", ErrInvalid, c.DeviceID, c.Twin, truncate(c.Type))
	case c.Source < FromCloud || c.Source > FromDevice:
		return fmt.Errorf("%w: device %s: twin %s: source %v", ErrInvalid, c.DeviceID, c.Twin, c.Source)
	}
	return nil
}

// Update applies changes in one transaction, in order, by the version rules (see Apply), and returns one
// Result per change. A change may create a twin of an existing device (Optional, of the change's Type).
// The batch is atomic: if a change names an unknown device (ErrNotFound), is invalid or carries a value
// that does not fit its twin's type (ErrInvalid), nothing is written. Stale, Conflict and Unchanged are
// outcomes, not errors. Timestamps left 0 are set to the time of the write.
func (s *Store) Update(ctx context.Context, changes []Change) ([]Result, error) {
	if len(changes) > s.cfg.MaxBatch {
		return nil, fmt.Errorf("%w: %d changes (limit %d)", ErrBatchTooLarge, len(changes), s.cfg.MaxBatch)
	}
	for _, c := range changes {
		if err := c.validate(); err != nil {
			return nil, err
		}
	}
	if len(changes) == 0 {
		return nil, nil
	}
	results := make([]Result, len(changes))
	err := s.write(ctx, func(tx *sql.Tx) ([]Event, error) {
		now := s.now()
		get := tx.StmtContext(ctx, s.st.getTwin)
		exists := tx.StmtContext(ctx, s.st.deviceExists)
		put := tx.StmtContext(ctx, s.st.putTwin)
		var events []Event
		for i, c := range changes {
			before, err := scanTwin(get.QueryRowContext(ctx, c.DeviceID, c.Twin))
			created := errors.Is(err, sql.ErrNoRows)
			switch {
			case created:
				var one int
				if err := exists.QueryRowContext(ctx, c.DeviceID).Scan(&one); errors.Is(err, sql.ErrNoRows) {
					return nil, fmt.Errorf("%w: device %s", ErrNotFound, c.DeviceID)
				} else if err != nil {
					return nil, fmt.Errorf("twin: device %s: %w", c.DeviceID, err)
				}
				before = Twin{}
			case err != nil:
				return nil, fmt.Errorf("twin: device %s: twin %s: %w", c.DeviceID, c.Twin, err)
			}
			start := before
			if created {
				start = Twin{Name: c.Twin, Type: c.Type, Optional: true}
			}
			u := c.Update
			if u.Timestamp == 0 {
				u.Timestamp = now
			}
			after, outcome, err := Apply(start, u)
			if err != nil {
				return nil, fmt.Errorf("device %s: %w", c.DeviceID, err)
			}
			if outcome == Applied {
				if _, err := put.ExecContext(ctx, twinArgs(c.DeviceID, after)...); err != nil {
					return nil, fmt.Errorf("twin: device %s: twin %s: %w", c.DeviceID, c.Twin, err)
				}
				events = append(events, Event{Kind: EventTwin, DeviceID: c.DeviceID, Source: c.Source,
					Before: before, After: after})
			} else {
				after = before
			}
			results[i] = Result{DeviceID: c.DeviceID, Outcome: outcome, Before: before, After: after}
		}
		return events, nil
	})
	if err != nil {
		return nil, err
	}
	return results, nil
}

func (s *Store) one(ctx context.Context, c Change) (Result, error) {
	rs, err := s.Update(ctx, []Change{c})
	if err != nil {
		return Result{}, err
	}
	return rs[0], nil
}

// SetDesired applies a desired value sent by the cloud with the cloud's version v (FromCloud).
func (s *Store) SetDesired(ctx context.Context, deviceID, twin, value string, v Version) (Result, error) {
	return s.one(ctx, Change{DeviceID: deviceID, Twin: twin,
		Update: Update{Source: FromCloud, Value: value, Version: v}})
}

// SetDesiredLocal applies a desired value set on the edge (FromEdge): it wins over cloud updates that
// have not seen it.
func (s *Store) SetDesiredLocal(ctx context.Context, deviceID, twin, value string) (Result, error) {
	return s.one(ctx, Change{DeviceID: deviceID, Twin: twin, Update: Update{Source: FromEdge, Value: value}})
}

// SetReported applies a value reported by the device (FromDevice).
func (s *Store) SetReported(ctx context.Context, deviceID, twin, value string) (Result, error) {
	return s.one(ctx, Change{DeviceID: deviceID, Twin: twin, Update: Update{Source: FromDevice, Value: value}})
}

// GetDevice returns a device with its twins (sorted by name); ErrNotFound if it does not exist.
func (s *Store) GetDevice(ctx context.Context, id string) (Device, error) {
	if s.closed.Load() {
		return Device{}, ErrClosed
	}
	tx, err := s.db.Reader().BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return Device{}, s.mapErr(fmt.Errorf("twin: get device %s: %w", id, err))
	}
	defer func() { _ = tx.Rollback() }()
	d, err := readDevice(ctx, tx, id)
	if err != nil && !errors.Is(err, ErrNotFound) {
		err = fmt.Errorf("twin: get device %s: %w", id, err)
	}
	return d, s.mapErr(err)
}

// GetTwin returns one twin of a device; ErrNotFound if the device or the twin does not exist.
func (s *Store) GetTwin(ctx context.Context, deviceID, name string) (Twin, error) {
	d, err := s.GetDevice(ctx, deviceID)
	if err != nil {
		return Twin{}, err
	}
	t, ok := d.Twin(name)
	if !ok {
		return Twin{}, fmt.Errorf("%w: device %s: twin %s", ErrNotFound, deviceID, name)
	}
	return t, nil
}

// Delta returns the device's twins whose desired value differs from the reported one; ErrNotFound if the
// device does not exist.
func (s *Store) Delta(ctx context.Context, deviceID string) ([]Twin, error) {
	d, err := s.GetDevice(ctx, deviceID)
	if err != nil {
		return nil, err
	}
	return Delta(d.Twins), nil
}

// ListDevices returns every device with its twins, sorted by id, from one consistent snapshot.
func (s *Store) ListDevices(ctx context.Context) ([]Device, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	devices, err := s.listDevices(ctx)
	if err != nil {
		return nil, s.mapErr(fmt.Errorf("twin: list devices: %w", err))
	}
	return devices, nil
}

func (s *Store) listDevices(ctx context.Context) ([]Device, error) {
	tx, err := s.db.Reader().BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback() }()
	rows, err := tx.QueryContext(ctx, sqlAllDevices)
	if err != nil {
		return nil, err
	}
	var devices []Device
	index := map[string]int{}
	for rows.Next() {
		d, err := scanDevice(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		index[d.ID()] = len(devices)
		devices = append(devices, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows, err = tx.QueryContext(ctx, sqlAllTwins)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		t, err := scanTwin(rows, &id)
		if err != nil {
			return nil, err
		}
		if i, ok := index[id]; ok {
			devices[i].Twins = append(devices[i].Twins, t)
		}
	}
	return devices, rows.Err()
}
