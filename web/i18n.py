"""UI strings in Simplified Chinese (default) and English."""

from __future__ import annotations

from collections.abc import Callable

LANGUAGES = ("zh", "en")

STRINGS: dict[str, dict[str, str]] = {
    "app_name": {"zh": "外呼 CRM", "en": "Outbound CRM"},
    "tagline": {
        "zh": "拨号器与 CRM 一体的外呼中心",
        "en": "The outbound call centre where the dialer and the CRM are one",
    },
    "system_status": {"zh": "系统状态", "en": "System status"},
    "ari": {"zh": "ARI（呼叫控制）", "en": "ARI (call control)"},
    "ami": {"zh": "AMI（管理接口）", "en": "AMI (management)"},
    "connected": {"zh": "已连接", "en": "connected"},
    "disconnected": {"zh": "未连接", "en": "not connected"},
    "asterisk_version": {"zh": "Asterisk 版本", "en": "Asterisk version"},
    "language": {"zh": "语言", "en": "Language"},
    "reconnects": {"zh": "重连次数", "en": "reconnects"},
}


def translator(lang: str) -> Callable[[str], str]:
    def t(key: str) -> str:
        entry = STRINGS.get(key)
        if entry is None:
            return key
        return entry.get(lang) or entry["en"]

    return t


# --- the agent page and the login page (screen pops) -------------------------------------------
STRINGS.update({
    "login": {"zh": "登录", "en": "Sign in"},
    "username": {"zh": "用户名", "en": "Username"},
    "password": {"zh": "密码", "en": "Password"},
    "login_failed": {"zh": "用户名或密码错误", "en": "Wrong username or password"},
    "sign_out": {"zh": "退出登录", "en": "Sign out"},
    "agent_desk": {"zh": "坐席工作台", "en": "Agent desk"},
    "dialer": {"zh": "拨号器", "en": "Dialer"},
    "extension": {"zh": "分机号", "en": "Extension"},
    "campaign": {"zh": "外呼活动", "en": "Campaign"},
    "no_campaigns": {"zh": "你还不是任何进行中活动的成员（请联系主管）",
                     "en": "You are not a member of an active campaign (ask your manager)"},
    "dialer_login": {"zh": "签入拨号器", "en": "Log in to the dialer"},
    "dialer_logout": {"zh": "签出拨号器", "en": "Log out of the dialer"},
    "go_ready": {"zh": "就绪", "en": "Ready"},
    "pause": {"zh": "暂停", "en": "Pause"},
    "pause_code": {"zh": "暂停原因", "en": "Pause code"},
    "pause_break": {"zh": "休息", "en": "Break"},
    "pause_lunch": {"zh": "午餐", "en": "Lunch"},
    "pause_training": {"zh": "培训", "en": "Training"},
    "pause_meeting": {"zh": "会议", "en": "Meeting"},
    "pause_admin": {"zh": "事务处理", "en": "Admin work"},
    "state_logged_out": {"zh": "未签入拨号器", "en": "Not logged in to the dialer"},
    "state_connecting": {"zh": "正在呼叫您的话机", "en": "Calling your phone"},
    "state_ready": {"zh": "就绪", "en": "Ready"},
    "state_reserved": {"zh": "已分配呼叫", "en": "Call reserved"},
    "state_on_call": {"zh": "通话中", "en": "On a call"},
    "state_wrap_up": {"zh": "话后处理", "en": "Wrap-up"},
    "state_paused": {"zh": "暂停", "en": "Paused"},
    "call_offered": {"zh": "预览", "en": "Preview"},
    "call_ringing": {"zh": "振铃中", "en": "Ringing"},
    "call_connected": {"zh": "已接通", "en": "Connected"},
    "call_ended": {"zh": "已挂断", "en": "Ended"},
    "live": {"zh": "实时连接", "en": "Live"},
    "reconnecting": {"zh": "正在重新连接…", "en": "Reconnecting…"},
    "waiting_for_call": {"zh": "等待来电弹屏…", "en": "Waiting for a screen pop…"},
    "unknown_customer": {"zh": "未知客户", "en": "Unknown customer"},
    "numbers": {"zh": "电话号码", "en": "Numbers"},
    "tags": {"zh": "标签", "en": "Tags"},
    "recent_contacts": {"zh": "最近联系", "en": "Recent contacts"},
    "no_contacts": {"zh": "暂无联系记录", "en": "No contacts yet"},
    "open_tasks": {"zh": "待办任务", "en": "Open tasks"},
    "no_tasks": {"zh": "暂无任务", "en": "No tasks"},
    "script": {"zh": "推荐话术", "en": "Recommended script"},
    "no_script": {"zh": "暂无推荐话术", "en": "No script for these tags"},
    "hang_up": {"zh": "挂断", "en": "Hang up"},
    "hold": {"zh": "保持", "en": "Hold"},
    "unhold": {"zh": "取回", "en": "Resume"},
    "mute": {"zh": "静音", "en": "Mute"},
    "unmute": {"zh": "取消静音", "en": "Unmute"},
    "on_hold": {"zh": "保持中", "en": "On hold"},
    "muted": {"zh": "已静音", "en": "Muted"},
    "accept_preview": {"zh": "拨打", "en": "Dial"},
    "skip_preview": {"zh": "跳过", "en": "Skip"},
    "skip_reason": {"zh": "跳过原因", "en": "Reason to skip"},
    "notes": {"zh": "备注", "en": "Notes"},
    "save_note": {"zh": "保存备注", "en": "Save note"},
    "note_saved": {"zh": "备注已保存", "en": "Note saved"},
    "wrap_up": {"zh": "话后处理", "en": "Wrap-up"},
    "disposition": {"zh": "通话结果", "en": "Disposition"},
    "choose": {"zh": "请选择", "en": "Choose"},
    "disp_sale": {"zh": "成交", "en": "Sale"},
    "disp_callback": {"zh": "预约回拨", "en": "Callback"},
    "disp_interested": {"zh": "有意向", "en": "Interested"},
    "disp_not_interested": {"zh": "不感兴趣", "en": "Not interested"},
    "disp_do_not_call": {"zh": "勿再拨打", "en": "Do not call"},
    "disp_wrong_number": {"zh": "号码错误", "en": "Wrong number"},
    "callback_at": {"zh": "回拨时间", "en": "Callback time"},
    "then_pause": {"zh": "提交后暂停", "en": "Pause afterwards"},
    "submit": {"zh": "提交", "en": "Submit"},
    "disposition_saved": {"zh": "通话结果已保存", "en": "Disposition saved"},
    "my_tasks": {"zh": "我的任务", "en": "My tasks"},
    "refresh": {"zh": "刷新", "en": "Refresh"},
    "due": {"zh": "截止", "en": "Due"},
    "route_senior": {"zh": "高转化意向 · 资深坐席", "en": "High propensity · senior agents"},
    "route_standard": {"zh": "普通", "en": "Standard"},
    "route_nurture": {"zh": "自动培育", "en": "Nurturing"},
    "route_overridden": {"zh": "经理已调整", "en": "set by a manager"},
    "outcome_answered": {"zh": "已接听", "en": "answered"},
    "outcome_no_answer": {"zh": "无人接听", "en": "no answer"},
    "outcome_busy": {"zh": "忙线", "en": "busy"},
    "outcome_failed": {"zh": "呼叫失败", "en": "failed"},
    "outcome_machine": {"zh": "语音信箱", "en": "machine"},
    "outcome_abandoned": {"zh": "放弃", "en": "abandoned"},
    "outcome_invalid_number": {"zh": "空号", "en": "invalid number"},
    "watching": {"zh": "正在查看坐席", "en": "Watching agent"},
    "error": {"zh": "出错了", "en": "Something went wrong"},
})

# --- the managers' wallboard ------------------------------------------------------------------
STRINGS.update({
    "wallboard": {"zh": "实时看板", "en": "Live wallboard"},
    "wb_ringing": {"zh": "振铃中", "en": "ringing"},
    "wb_connected": {"zh": "通话中", "en": "connected"},
    "wb_waiting": {"zh": "等待坐席", "en": "waiting for an agent"},
    "wb_agents": {"zh": "坐席", "en": "Agents"},
    "wb_campaigns": {"zh": "外呼活动", "en": "Campaigns"},
    "no_agents": {"zh": "没有已登录的坐席", "en": "No agent logged in"},
    "wb_alarm": {"zh": "告警", "en": "ALARM"},
    "wb_over_target": {"zh": "超过目标", "en": "over target"},
    "wb_abandon_rate": {"zh": "放弃率", "en": "Abandon rate"},
    "wb_connects": {"zh": "接通坐席", "en": "Connects"},
    "wb_target": {"zh": "目标", "en": "target"},
    "wb_dials": {"zh": "拨出", "en": "Dials"},
    "wb_answers": {"zh": "真人接听", "en": "Live answers"},
    "wb_hopper": {"zh": "待拨名单", "en": "Hopper"},
    "wb_minutes_ago": {"zh": "分钟", "en": "min"},
    "wb_answer_rate": {"zh": "接听率", "en": "Answer rate"},
    "wb_dials_per_connect": {"zh": "每接通拨出", "en": "Dials per connect"},
    "wb_occupancy": {"zh": "坐席占用率", "en": "Occupancy"},
    "wb_regulatory": {"zh": "监管窗口放弃率", "en": "Abandon rate, regulatory window"},
    "wb_window_30d": {"zh": "30 天", "en": "30 days"},
    "wb_window_24h": {"zh": "24 小时", "en": "24 h"},
})

# --- supervisor monitoring on the wallboard (listen / whisper / barge) --------------------------
STRINGS.update({
    "mon_extension": {"zh": "我的分机", "en": "My extension"},
    "mon_listen": {"zh": "监听", "en": "Listen"},
    "mon_whisper": {"zh": "密语", "en": "Whisper"},
    "mon_barge": {"zh": "强插", "en": "Barge in"},
    "mon_stop": {"zh": "停止监听", "en": "Stop"},
    "mon_active": {"zh": "正在监控", "en": "Monitoring"},
    "mon_stopped": {"zh": "已停止监控", "en": "Monitoring stopped"},
    "mon_failed": {"zh": "监控失败", "en": "Monitoring failed"},
})

# --- the manager console, reports and the admin status page (web/i18n_console.py) ------------
from web.i18n_console import CONSOLE_STRINGS  # noqa: E402

STRINGS.update(CONSOLE_STRINGS)

# --- the customer pages, /customers and /customers/{id} (web/customers/strings.py) ----------
from web.customers.strings import CUSTOMER_STRINGS  # noqa: E402

STRINGS.update(CUSTOMER_STRINGS)

# --- the agent page's manual-dial control (web/dialer/strings.py) -----------------------------
from web.dialer.strings import MANUAL_DIAL_STRINGS  # noqa: E402

STRINGS.update(MANUAL_DIAL_STRINGS)

# --- the agent page: live transcript and rule suggestions (issue 6) ---------------------------
STRINGS.update({
    "live_transcript": {"zh": "实时通话转写", "en": "Live transcript"},
    "no_transcript": {"zh": "通话中的转写将显示在这里",
                      "en": "What is said on the call shows here"},
    "speaker_customer": {"zh": "客户", "en": "Customer"},
    "speaker_agent": {"zh": "坐席", "en": "Agent"},
    "transcript_gap": {"zh": "（音频中断：{reason}）", "en": "(audio gap: {reason})"},
    "suggestions": {"zh": "智能提示", "en": "Suggestions"},
    "suggested_script": {"zh": "建议话术", "en": "Suggested script"},
    "task_created": {"zh": "已创建任务", "en": "Task created"},
})

# --- the one navigation of every page (web/nav.py, templates/_nav.html) and the landing page ---
STRINGS.update({
    "nav_label": {"zh": "主导航", "en": "Main navigation"},
    "nav_desk": {"zh": "坐席工作台", "en": "Agent desk"},
    "nav_customers": {"zh": "客户", "en": "Customers"},
    "signed_in_as": {"zh": "当前用户", "en": "Signed in as"},
    "login_hint": {"zh": "坐席、经理和管理员请先登录。",
                   "en": "Agents, managers and admins: sign in first."},
})

# --- the agent desk's work: notes, wrap-up, callbacks, tasks (issue 13 item 9) ----------------
STRINGS.update({
    "customer_notes": {"zh": "客户备注", "en": "Customer notes"},
    "new_customer_note": {"zh": "新增客户备注（存入客户档案）",
                          "en": "New customer note (kept on the customer's record)"},
    "no_notes": {"zh": "暂无备注", "en": "No notes yet"},
    "wrapup_comment": {"zh": "结果说明（随通话结果保存）",
                       "en": "Comment on the outcome (saved with the disposition)"},
    "wrapup_left": {"zh": "剩余 {time}", "en": "{time} left"},
    "my_callbacks": {"zh": "我的预约回拨", "en": "My callbacks"},
    "no_callbacks": {"zh": "暂无预约回拨", "en": "No callbacks"},
    "overdue": {"zh": "已逾期", "en": "overdue"},
    "zone": {"zh": "时区", "en": "Time zone"},
    "complete_task": {"zh": "完成", "en": "Done"},
    "open_customer": {"zh": "打开客户", "en": "Open customer"},
    "task_done": {"zh": "任务已完成", "en": "Task completed"},
    "no_customer": {"zh": "（无客户）", "en": "(no customer)"},
    "shortcut_hint": {"zh": "快捷键", "en": "Shortcut"},
    "wrapup_keys": {"zh": "按方括号中的键选择通话结果",
                    "en": "Press the key in brackets to choose"},
    "ntype_mobile": {"zh": "手机", "en": "mobile"},
    "ntype_landline": {"zh": "固话", "en": "landline"},
    "ntype_voip": {"zh": "网络电话", "en": "VoIP"},
    "ntype_unknown": {"zh": "未知类型", "en": "unknown type"},
    "callstate_originated": {"zh": "已拨出", "en": "dialled"},
    "callstate_ringing": {"zh": "振铃", "en": "ringing"},
    "callstate_answered": {"zh": "已接听", "en": "answered"},
    "callstate_bridged": {"zh": "已接通坐席", "en": "connected to an agent"},
    "callstate_ended": {"zh": "已结束", "en": "ended"},
    # the transcript's concept chips (crm/analysis/default_lexicon.yaml)
    "concept_price": {"zh": "问价格", "en": "price"},
    "concept_cooperation": {"zh": "合作", "en": "cooperation"},
    "concept_too_expensive": {"zh": "嫌贵", "en": "too expensive"},
    "concept_price_ok": {"zh": "价格可接受", "en": "price OK"},
    "concept_discount": {"zh": "优惠", "en": "discount"},
    "concept_callback_request": {"zh": "要求回电", "en": "call back"},
    "concept_interested": {"zh": "有兴趣", "en": "interested"},
    "concept_not_interested": {"zh": "没兴趣", "en": "not interested"},
    "concept_competitor": {"zh": "竞品", "en": "competitor"},
    "concept_complaint": {"zh": "投诉", "en": "complaint"},
    "concept_decision_maker": {"zh": "决策人", "en": "decision maker"},
})

GAP_REASONS = ("backpressure", "worker_down", "worker_crashed", "fork_starting", "fork_failed",
               "recogniser_unavailable", "controller_restart")
STRINGS.update({
    "gap_backpressure": {"zh": "识别跟不上", "en": "recogniser overloaded"},
    "gap_worker_down": {"zh": "识别服务未运行", "en": "recogniser not running"},
    "gap_worker_crashed": {"zh": "识别服务重启", "en": "recogniser restarted"},
    "gap_fork_starting": {"zh": "转写启动中", "en": "transcription starting"},
    "gap_fork_failed": {"zh": "音频分流失败", "en": "audio fork failed"},
    "gap_recogniser_unavailable": {"zh": "语音识别不可用", "en": "speech recognition unavailable"},
    "gap_controller_restart": {"zh": "系统重启", "en": "system restart"},
})

# --- callbacks that belong to someone (issue 13 item 3) --------------------------------------
STRINGS.update({
    "callback_personal": {"zh": "由我本人回拨（个人预约）",
                          "en": "I will call back myself (personal)"},
    "callback_scope_personal": {"zh": "个人", "en": "personal"},
    "callback_soon": {"zh": "预约回拨即将到时：{who}（{time}）",
                      "en": "Callback due soon: {who} ({time})"},
})

CONCEPTS = ("price", "cooperation", "too_expensive", "price_ok", "discount", "callback_request",
            "interested", "not_interested", "competitor", "complaint", "decision_maker")
