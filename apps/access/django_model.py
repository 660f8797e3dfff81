"""Django models of the two tables (unmanaged: the schema is schema/'s). Imported only after
apps/access/django_setup.py has configured Django."""

from django.db import models


class User(models.Model):
    username = models.TextField()
    email = models.TextField()
    full_name = models.TextField()
    bio = models.TextField()
    is_active = models.BooleanField()
    created_at = models.DateTimeField()

    class Meta:
        app_label = "access"
        db_table = "users"
        managed = False


class Post(models.Model):
    author = models.ForeignKey(User, on_delete=models.DO_NOTHING, db_column="user_id", related_name="posts")
    created_at = models.DateTimeField()
    title = models.TextField()
    body = models.TextField()
    likes = models.IntegerField()

    class Meta:
        app_label = "access"
        db_table = "posts"
        managed = False
