"""The Redis store's uploaded files: a hash per file (its meta and bytes) with a TTL, and, for
the byte quota, each file's size and the running total; a new upload fits in the quota or is
refused whole, in one Lua step (``put_files``)."""

from __future__ import annotations

import json
import secrets
from typing import Any

from vivi_emulator.store.base import QuotaExceeded
from vivi_emulator.store.redis.client import RedisClient, guarded
from vivi_emulator.store.values import NewFile, StoredFile


class RedisFiles(RedisClient):
    @guarded
    async def put_files(self, channel_id: str, files: list[NewFile]) -> list[str]:
        ids = [secrets.token_urlsafe(18) for _ in files]
        args: list[Any] = [
            int(self.bounds.file_ttl_seconds * 1000),
            self.bounds.files_quota_bytes,
            self._prefix + "f:",
        ]
        for file_id, new in zip(ids, files, strict=True):
            meta = {"channel": channel_id, "name": new.name, "content_type": new.content_type}
            args += [file_id, json.dumps(meta), new.data]
        done, used = await self._put(keys=[self._files, self._fsize, self._fbytes], args=args)
        if int(done) != 1:
            quota = self.bounds.files_quota_bytes
            size = sum(len(f.data) for f in files)
            raise QuotaExceeded(
                f"uploaded files are limited to {quota} bytes in all (files_quota_bytes); "
                f"{int(used)} are in use and these need {size}"
            )
        return ids

    @guarded
    async def get_file(self, file_id: str) -> StoredFile | None:
        meta, data = await self._redis.hmget(self._prefix + "f:" + file_id, ["meta", "data"])
        if meta is None or data is None:
            return None
        info = json.loads(meta)
        return StoredFile(info["channel"], info["name"], info["content_type"], data)

    async def _reset_files(self, channel_id: str) -> None:
        ids = await self._redis.hkeys(self._fsize)
        for file_id in ids:
            meta = await self._redis.hget(self._prefix.encode() + b"f:" + file_id, "meta")
            if meta is None or json.loads(meta)["channel"] == channel_id:
                size = int(await self._redis.hget(self._fsize, file_id) or 0)
                async with self._redis.pipeline(transaction=True) as pipe:
                    pipe.unlink(self._prefix.encode() + b"f:" + file_id)
                    pipe.hdel(self._fsize, file_id).zrem(self._files, file_id)
                    pipe.decrby(self._fbytes, size)
                    await pipe.execute()
