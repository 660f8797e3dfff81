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

func (s *gormStore) GetUser(ctx context.Context, id int32) (*User, error) {
	var u User
	err := s.db.WithContext(ctx).First(&u, id).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	u.CreatedAt = u.CreatedAt.UTC()
	return &u, nil
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
