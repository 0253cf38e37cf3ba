"""A TCP proxy the tests put between provider and wallet, to cut the link at chosen moments.

It forwards bytes both ways, and each direction can be switched to *discard* (bytes are read and
thrown away, so nothing queued reaches the other side later, even after the switch is turned
back): ``upstream`` (provider -> wallet requests) and ``downstream`` (wallet -> provider answers).
:meth:`drop_connections` closes every open connection at once; with ``refuse`` set, new ones are
closed as soon as they arrive.
"""

from __future__ import annotations

import asyncio
import contextlib


class TcpProxy:
    def __init__(self, target_port: int) -> None:
        self._target_port = target_port
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.upstream = True
        """Forward provider -> wallet; False discards."""
        self.downstream = True
        """Forward wallet -> provider; False discards."""
        self.refuse = False
        """Close new connections at once (wallet looks down)."""

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> TcpProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return self

    async def close(self) -> None:
        self.drop_connections()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def drop_connections(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.refuse:
            writer.transport.abort()
            return
        try:
            target_reader, target_writer = await asyncio.open_connection(
                "127.0.0.1", self._target_port
            )
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, target_writer}
        await asyncio.gather(
            self._pipe(reader, target_writer, lambda: self.upstream),
            self._pipe(target_reader, writer, lambda: self.downstream),
            return_exceptions=True,
        )
        for item in (writer, target_writer):
            self._writers.discard(item)
            item.transport.abort()

    @staticmethod
    async def _pipe(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, forwarding: object
    ) -> None:
        assert callable(forwarding)
        with contextlib.suppress(ConnectionError, OSError):
            while True:
                data = await reader.read(65_536)
                if not data:
                    break
                if forwarding():
                    writer.write(data)
                    await writer.drain()
        writer.transport.abort()
