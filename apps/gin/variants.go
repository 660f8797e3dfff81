package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

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

// gormPost and gormAuthor map the posts table and the part of users a feed shows.
type gormPost struct {
	ID        int32
	UserID    int32
	Title     string
	CreatedAt time.Time
	Likes     int32
	Author    gormAuthor `gorm:"foreignKey:UserID"`
}

func (gormPost) TableName() string { return "posts" }

type gormAuthor struct {
	ID       int32
	Username string
	FullName string
}

func (gormAuthor) TableName() string { return "users" }

func (p gormPost) post() Post {
	return Post{ID: p.ID, Title: p.Title, CreatedAt: p.CreatedAt.UTC(), Likes: p.Likes}
}

// UserPosts is what GORM's documentation leads to for a bounded part of a large has-many:
// the user, then a Count and a query of the latest posts (three statements).
func (s *gormStore) UserPosts(ctx context.Context, id int32) (*UserPosts, error) {
	u, err := s.GetUser(ctx, id)
	if u == nil || err != nil {
		return nil, err
	}
	found := &UserPosts{User: *u, Posts: make([]Post, 0, latestPosts)}
	db := s.db.WithContext(ctx)
	if err := db.Model(&gormPost{}).Where("user_id = ?", id).Count(&found.PostCount).Error; err != nil {
		return nil, err
	}
	var posts []gormPost
	err = db.Where("user_id = ?", id).Order("created_at DESC, id DESC").Limit(latestPosts).Find(&posts).Error
	for _, p := range posts {
		found.Posts = append(found.Posts, p.post())
	}
	return found, err
}

// Feed loads each post's author with Joins, GORM's eager loading for a belongs-to: one statement.
func (s *gormStore) Feed(ctx context.Context, before int32, limit int) ([]FeedPost, error) {
	var posts []gormPost
	err := s.db.WithContext(ctx).Joins("Author").Where("posts.id < ?", before).Order("posts.id DESC").Limit(limit).
		Find(&posts).Error
	found := make([]FeedPost, 0, len(posts))
	for _, p := range posts {
		found = append(found, FeedPost{Post: p.post(), Author: Author(p.Author)})
	}
	return found, err
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
