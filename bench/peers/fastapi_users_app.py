# Peer for bench/peers/fastapi_users.sh: the stock FastAPI-Users 15 setup
# (SQLAlchemy on SQLite, JWT over Bearer), changed only where a fair
# comparison with Latchkey needs it: argon2id at Latchkey's cost.
import fcntl
import os
import uuid
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi_users import BaseUserManager, FastAPIUsers, UUIDIDMixin, schemas
from fastapi_users.authentication import AuthenticationBackend, BearerTransport, JWTStrategy
from fastapi_users.password import PasswordHelper
from fastapi_users_db_sqlalchemy import SQLAlchemyBaseUserTableUUID, SQLAlchemyUserDatabase
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase

DB_PATH = os.environ.get("PEER_DB", "/tmp/fastapi-users-bench.db")
SECRET = os.environ.get("PEER_SECRET", "bench-secret-bench-secret-bench-secret-bench-secret")

# Latchkey's cost (core/src/hashing.rs): m=19456 KiB, t=2, p=1. The default
# PasswordHelper uses argon2-cffi's defaults (m=64 MiB, t=3, p=4).
password_helper = PasswordHelper(
    PasswordHash((Argon2Hasher(memory_cost=19456, time_cost=2, parallelism=1),))
)


class Base(DeclarativeBase):
    pass


class User(SQLAlchemyBaseUserTableUUID, Base):
    pass


engine = create_async_engine(f"sqlite+aiosqlite:///{DB_PATH}")
session_maker = async_sessionmaker(engine, expire_on_commit=False)


async def get_user_db():
    async with session_maker() as session:
        yield SQLAlchemyUserDatabase(session, User)


class UserManager(UUIDIDMixin, BaseUserManager[User, uuid.UUID]):
    reset_password_token_secret = SECRET
    verification_token_secret = SECRET


async def get_user_manager(user_db: SQLAlchemyUserDatabase = Depends(get_user_db)):
    yield UserManager(user_db, password_helper)


def get_jwt_strategy() -> JWTStrategy:
    return JWTStrategy(secret=SECRET, lifetime_seconds=900)


auth_backend = AuthenticationBackend(
    name="jwt", transport=BearerTransport(tokenUrl="auth/jwt/login"), get_strategy=get_jwt_strategy
)
fastapi_users = FastAPIUsers[User, uuid.UUID](get_user_manager, [auth_backend])


class UserRead(schemas.BaseUser[uuid.UUID]):
    pass


class UserCreate(schemas.BaseUserCreate):
    pass


class UserUpdate(schemas.BaseUserUpdate):
    pass


@asynccontextmanager
async def lifespan(_app: FastAPI):
    # Every uvicorn worker runs this; the lock keeps two workers from both
    # issuing CREATE TABLE on the fresh file (SQLite DDL is not guarded here).
    with open(DB_PATH + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        async with engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
    yield


app = FastAPI(lifespan=lifespan)
app.include_router(fastapi_users.get_auth_router(auth_backend), prefix="/auth/jwt")
app.include_router(fastapi_users.get_register_router(UserRead, UserCreate), prefix="/auth")
app.include_router(fastapi_users.get_users_router(UserRead, UserUpdate), prefix="/users")
