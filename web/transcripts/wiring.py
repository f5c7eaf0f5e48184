"""Wiring of the live audio fork into the dialer (composition helpers, no logic of its own).

- the recogniser pool from the settings (``asr_model``, ``asr_workers``), started lazily with
  the first connected call (``asr_start = "lazy"``), at start-up (``"eager"``), or not at
  all (``"off"``: nothing is forked);
- the initial prompt per campaign: the campaign's ``vocabulary`` when it has one, else the
  CRM lexicon's keywords (the words the rules listen for);
- the dialer's hooks: a customer bridged to an agent starts the forks, the end stops them;
  segments and gap markers go into the dialer's durable ``transcripts`` outbox lane.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from functools import cache
from typing import Any, Protocol

from aiohttp import web

from ari_app.ari import BridgeInfo, ChannelInfo, Reconnected
from ari_app.dialer.engine import Dialer
from ari_app.dialer.model import CallAttempt, CallPhase
from ari_app.errors import ConfigurationError, TelephonyError
from ari_app.settings import DialerSettings
from ari_app.speech.fork import FORK_PREFIX, ForkConfig, ForkControl
from ari_app.speech.live import AudioForks
from ari_app.speech.pool import PoolConfig, RecogniserPool
from ari_app.speech.transcriber import RecognitionConfig, vocabulary_prompt
from ari_app.speech.vad import VadConfig
from web.appkeys import DIALER_KEY

log = logging.getLogger(__name__)

MAX_PROMPT_TERMS = 40  # Whisper's prompt holds ~220 tokens; keep well inside


class LazyRecogniser:
    """The pool, launched on first use (its workers load the model in the background: the
    audio until one is ready is recorded as a ``worker_down`` gap)."""

    def __init__(self, pool: RecogniserPool) -> None:
        self.pool = pool

    async def open_stream(self, call_id: str, speaker: str, sample_rate: int,
                          encoding: str = "slin", prompt: str | None = None) -> Any:
        if not self.pool.started:
            log.info("starting the recogniser (first live call)")
            self.pool.launch()
        return await self.pool.open_stream(call_id, speaker, sample_rate, encoding, prompt)


@cache
def lexicon_terms(language: str = "en") -> tuple[str, ...]:
    """The CRM lexicon's keywords in one language (the default vocabulary)."""
    from crm.analysis import load_lexicon

    terms: list[str] = []
    for concept in load_lexicon().concepts.values():
        for term in concept.terms.get(language, ()):
            if term not in terms:
                terms.append(term)
    return tuple(terms)


def prompt_for(dialer: Dialer, language: str = "en") -> Callable[[str], str | None]:
    def prompt_of(campaign_id: str) -> str | None:
        config = dialer.configs.get(campaign_id)
        vocabulary = tuple(getattr(config, "vocabulary", ()) or ())
        return vocabulary_prompt(list(vocabulary or lexicon_terms(language))[:MAX_PROMPT_TERMS])

    return prompt_of


LIVE_MAX_UTTERANCE_S = 8.0  # someone talking on still gets text every few seconds
# End of utterance after this much silence. The VAD's default (500 ms) waits out the ~0.4 s
# pause between two sentences, so a trigger in the first waits for the second to end too;
# live, each sentence goes to the rules on its own (bench/live_trigger.py: trigger -> task
# and the transcript's WER, before/after in one run).
LIVE_MIN_SILENCE_MS = 300
# Whisper's beam width. With the short encoder window (RecognitionConfig.window = "utterance")
# the decoder is a larger share of the time, but beam 1 raised bench/asr.py's WER at 8 kHz with
# the prompt, so 5 stays.
LIVE_BEAM_SIZE = 5


def pool_from(settings: DialerSettings, min_silence_ms: int | None = None,
              beam_size: int | None = None) -> RecogniserPool:
    """Workers share the cores (threads per worker = cores / workers)."""
    workers = max(1, settings.asr_workers)
    threads = max(1, (os.cpu_count() or 2) // workers)
    silence = LIVE_MIN_SILENCE_MS if min_silence_ms is None else min_silence_ms
    beams = LIVE_BEAM_SIZE if beam_size is None else beam_size
    return RecogniserPool(PoolConfig(
        RecognitionConfig(model=settings.asr_model, cpu_threads=threads, beam_size=beams),
        workers=workers,
        vad=VadConfig(min_silence_ms=silence, max_utterance_s=LIVE_MAX_UTTERANCE_S)))


def attach_forks(dialer: Dialer, forks: AudioForks) -> None:
    """Start the forks when a customer is bridged to an agent; stop them at the end."""

    def live(call: CallAttempt, abandoned: bool) -> None:
        if not abandoned:
            forks.call_live(call.call_id, call.campaign_id)

    def finished(call: CallAttempt) -> None:
        forks.call_ended(call.call_id)

    dialer.calls.on_live.append(live)
    dialer.calls.on_finished.append(finished)


def install_live_transcripts(dialer: Dialer, control: ForkControl, settings: DialerSettings,
                             recogniser: Any = None) -> AudioForks | None:
    """Build the forks for ``dialer`` (``None`` when ``asr_start`` is ``"off"``)."""
    if settings.asr_start not in ("lazy", "eager", "off"):
        raise ConfigurationError(f"asr_start must be lazy, eager or off, not "
                                 f"{settings.asr_start!r}")
    if settings.asr_start == "off":
        return None
    try:
        config = ForkConfig(fmt=settings.asr_fork_format)
    except ValueError as exc:
        raise ConfigurationError(f"asr_fork_format: {exc}") from None
    if recogniser is None:
        pool = pool_from(settings)
        if settings.asr_start == "eager":
            pool.launch()
        recogniser = LazyRecogniser(pool)
    forks = AudioForks(control, recogniser, dialer.record_transcript, config,
                       prompt_for(dialer))
    attach_forks(dialer, forks)
    return forks


FORKS_KEY = web.AppKey("audio_forks", AudioForks)


def adopt_live_calls(dialer: Dialer, forks: AudioForks) -> int:
    """After a (re)connection: connected calls the controller adopted (it restarted mid-call)
    get their forks back; the part of the call they missed is a ``controller_restart`` gap."""
    adopted = 0
    now = time.time()
    for call in list(dialer.calls.calls.values()):
        if call.phase is CallPhase.CONNECTED and call.call_id not in forks.calls \
                and call.bridged_at is not None:
            forks.call_live(call.call_id, call.campaign_id, elapsed_s=now - call.bridged_at)
            adopted += 1
    return adopted


STALE_EMPTY_BRIDGE_S = 60.0  # an empty fork bridge this old is no build in progress


def _older_than(bridge: BridgeInfo, seconds: float) -> bool:
    if bridge.created is None:
        return False
    return (datetime.now(UTC) - bridge.created).total_seconds() > seconds


class SweepControl(Protocol):
    """The ARI verbs the fork sweep needs (``ari_app.ari.AriClient`` implements them)."""

    async def list_channels(self) -> Sequence[ChannelInfo]: ...

    async def list_bridges(self) -> Sequence[BridgeInfo]: ...

    async def hangup(self, channel_id: str, reason: str = "normal") -> None: ...

    async def destroy_bridge(self, bridge_id: str) -> None: ...


async def sweep_stale_forks(forks: AudioForks, control: SweepControl, app: str) -> int:
    """Hang up fork channels and bridges a previous process of this Stasis ``app`` left
    behind (ids we do not know); they listen to nothing once their call is gone, but hold
    Asterisk resources. Other apps' forks on a shared Asterisk (a demo beside test runs,
    a second controller) are theirs: only channels in ``app`` are swept, and a fork bridge
    only when every channel in it is one of those (or it has been empty for a minute)."""
    known = {cid for fork in forks.calls.values() for leg in fork.legs
             for cid in (leg.channels or ())}
    stale = 0
    try:
        channels = await control.list_channels()
        bridges = await control.list_bridges()
    except TelephonyError as exc:
        log.warning("fork sweep: %s", exc)
        return 0
    swept = {c.id for c in channels
             if c.id.startswith(FORK_PREFIX) and c.id not in known and c.in_app(app)}
    for channel_id in swept:
        stale += await _quietly(control.hangup(channel_id))
    for bridge in bridges:
        members = set(bridge.channels)
        if bridge.id.startswith(FORK_PREFIX) and bridge.id not in known and (
                members <= swept if members else _older_than(bridge, STALE_EMPTY_BRIDGE_S)):
            stale += await _quietly(control.destroy_bridge(bridge.id))
    if stale:
        log.info("fork sweep: removed %d stale fork channels/bridges", stale)
    return stale


async def _quietly(action: Any) -> int:
    try:
        await action
        return 1
    except TelephonyError:
        return 0


async def live_transcripts_ctx(app: web.Application) -> AsyncIterator[None]:
    """``cleanup_ctx`` (after the dialer's): the forks of live calls and their recogniser."""
    from web.appkeys import SETTINGS, TELEPHONY  # the composition root's keys

    telephony = app[TELEPHONY]
    forks = install_live_transcripts(app[DIALER_KEY], telephony.ari, app[SETTINGS])
    if forks is None:
        yield
        return

    async def on_connected(_marker: Reconnected) -> None:
        adopt_live_calls(app[DIALER_KEY], forks)
        await sweep_stale_forks(forks, telephony.ari, app[SETTINGS].ari_app)

    telephony.on_connected(on_connected)
    app[FORKS_KEY] = forks
    yield
    await forks.close()
    recogniser = forks.recogniser
    if isinstance(recogniser, LazyRecogniser):
        await recogniser.pool.stop()
