"""The Redis store's uploaded files: a hash per file (its meta and bytes) with a TTL; for the
byte quota, each file's size and the running total; for a channel's reset, an index of each
channel's files. A new upload fits in the quota or is refused whole, in one Lua step
(``put_files``), which also forgets expired files, each counted once."""

from __future__ import annotations

import json
import secrets
from typing import Any

from vivi_emulator.store.base import ChannelGone, QuotaExceeded
from vivi_emulator.store.redis.client import RedisPart, guarded
from vivi_emulator.store.values import NewFile, StoredFile


class RedisFiles(RedisPart):
    @guarded
    async def put_files(
        self, channel_id: str, files: list[NewFile], generation: int | None = None
    ) -> list[str]:
        ids = [secrets.token_urlsafe(18) for _ in files]
        args: list[Any] = [
            int(self.client.bounds.file_ttl_seconds * 1000),
            self.client.bounds.files_quota_bytes,
            self.client.prefix,
            channel_id,
            "" if generation is None else generation,
        ]
        for file_id, new in zip(ids, files, strict=True):
            meta = {"channel": channel_id, "name": new.name, "content_type": new.content_type}
            args += [file_id, json.dumps(meta), new.data]
        keys = [
            self.client.files_key,
            self.client.fsize,
            self.client.fbytes,
            self.client.fown,
            self.client.gens,
        ]
        done, used = await self.client.scripts.put(keys=keys, args=args)
        if int(done) == -1:
            raise ChannelGone(channel_id)
        if int(done) != 1:
            quota = self.client.bounds.files_quota_bytes
            size = sum(len(f.data) for f in files)
            raise QuotaExceeded(
                f"uploaded files are limited to {quota} bytes in all (files_quota_bytes); "
                f"{int(used)} are in use and these need {size}"
            )
        return ids

    @guarded
    async def get_file(self, file_id: str) -> StoredFile | None:
        meta, data = await self.client.redis.hmget(
            self.client.prefix + "f:" + file_id, ["meta", "data"]
        )
        if meta is None or data is None:
            return None
        info = json.loads(meta)
        return StoredFile(info["channel"], info["name"], info["content_type"], data)
