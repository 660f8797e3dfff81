package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// gormStore is the gorm variant: GORM with its Postgres driver (pgx underneath) and
// PrepareStmt on, so the Go reference also shows what an ORM costs.
type gormStore struct {
	db  *gorm.DB
	sql *sql.DB
}

// found turns GORM's not-found error into the Store's (nil, nil).
func found(u *User, err error) (*User, error) {
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	u.CreatedAt = u.CreatedAt.UTC()
	return u, nil
}

func (s *gormStore) GetUser(ctx context.Context, id int32) (*User, error) {
	var u User
	return found(&u, s.db.WithContext(ctx).First(&u, id).Error)
}

func (s *gormStore) GetByUsername(ctx context.Context, username string) (*User, error) {
	var u User
	return found(&u, s.db.WithContext(ctx).Where("username = ?", username).Take(&u).Error)
}

func (s *gormStore) Page(ctx context.Context, after int32, limit int) ([]User, error) {
	users := make([]User, 0, limit)
	err := s.db.WithContext(ctx).Where("id > ?", after).Order("id").Limit(limit).Find(&users).Error
	for i := range users {
		users[i].CreatedAt = users[i].CreatedAt.UTC()
	}
	return users, err
}

// SetBio is what a GORM user writes: load the user, then update the one column.
func (s *gormStore) SetBio(ctx context.Context, id int32, bio string) (*User, error) {
	u, err := s.GetUser(ctx, id)
	if u == nil || err != nil {
		return nil, err
	}
	if err := s.db.WithContext(ctx).Model(u).Update("bio", bio).Error; err != nil {
		return nil, err
	}
	return u, nil
}

func (s *gormStore) Close() { _ = s.sql.Close() }

// openGorm opens a database/sql pool of exactly size connections, all before the first request.
func openGorm(ctx context.Context, url string, size int) (Store, error) {
	db, err := gorm.Open(postgres.Open(url), &gorm.Config{
		PrepareStmt:            true,
		SkipDefaultTransaction: true,
		Logger:                 logger.Default.LogMode(logger.Silent),
	})
	if err != nil {
		return nil, err
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, err
	}
	sqlDB.SetMaxOpenConns(size)
	sqlDB.SetMaxIdleConns(size)
	conns := make([]*sql.Conn, 0, size)
	for i := 0; i < size; i++ {
		conn, err := sqlDB.Conn(ctx)
		if err != nil {
			return nil, err
		}
		if err := conn.PingContext(ctx); err != nil {
			return nil, err
		}
		conns = append(conns, conn)
	}
	for _, conn := range conns {
		_ = conn.Close()
	}
	return &gormStore{db: db, sql: sqlDB}, nil
}

// newVariantStore opens the store of a variant other than raw.
func newVariantStore(ctx context.Context, variant, url string, size int) (Store, error) {
	switch variant {
	case "gorm":
		return openGorm(ctx, url, size)
	default:
		return nil, fmt.Errorf("unknown variant %q", variant)
	}
}
