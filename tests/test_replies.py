"""Which text replies opt out: exact keywords, and free-text revocations a reasonable person would read as
"stop texting me" (and the ones that only contain the words)."""

from __future__ import annotations

import pytest

from gateway.policy.replies import Intent, reply_intent


@pytest.mark.parametrize(
    "body, intent",
    [
        ("STOP", Intent.STOP),
        (" stop ", Intent.STOP),
        ("Stop", Intent.STOP),
        ("UNSUBSCRIBE", Intent.STOP),
        ("cancel", Intent.STOP),
        ("END", Intent.STOP),
        ("quit", Intent.STOP),
        ("OPTOUT", Intent.STOP),
        ("revoke", Intent.STOP),
        ("STOPALL", Intent.STOP_ALL),
        ("stop all", Intent.STOP_ALL),
        ("START", Intent.START),
        ("unstop", Intent.START),
        ("Yes", Intent.START),
        ("HELP", Intent.HELP),
        ("info", Intent.HELP),
        # Spanish and French keywords, with or without accents
        ("PARAR", Intent.STOP),
        ("Alto", Intent.STOP),
        ("cancelar", Intent.STOP),
        ("BAJA", Intent.STOP),
        ("detener", Intent.STOP),
        ("ARRÊT", Intent.STOP),
        ("arret", Intent.STOP),
        ("Arrête", Intent.STOP),
        ("ARRETT", Intent.STOP),
        ("AYUDA", Intent.HELP),
        ("aide", Intent.HELP),
    ],
)
def test_keywords_match_exactly(body, intent):
    assert reply_intent(body) is intent


OPT_OUTS = [
    "stop texting me",
    "Please stop texting me.",
    "STOP SENDING ME MESSAGES",
    "quit messaging me",
    "please unsubscribe me",
    "Unsubscribe me please",
    "remove me from your list",
    "Take me off your list!!",
    "take my number off",
    "remove my number",
    "opt me out",
    "I want to unsubscribe",
    "I'd like to opt out",
    "i would like to opt-out",
    "don't text me again",
    "Do not contact me",
    "never message me again",
    "no more texts please",
    "No more messages",
    "leave me alone",
    "Stop please",
    "STOP!!!",
    "stop.",
    "unsubscribe now",
    "Stop it",
    "cancel please",
    "how do I stop these texts?",
    "How can I unsubscribe",
    "Stop texting this number",
    "stop all these texts",
    "wrong number, stop texting me",
    "Stop 🛑",
    "Please remove me, I never signed up",
    "I wish to stop receiving these",
    # Spanish
    "No me envíen más mensajes",
    "no me manden mas",
    "Dejen de enviarme mensajes por favor",
    "Quiero darme de baja",
    "quiero cancelar la suscripción",
    "Bórrenme de su lista",
    "no quiero recibir más mensajes",
    "Alto por favor",
    "Paren de molestarme",
    # French
    "Arrêtez de m'envoyer des messages",
    "Ne m'envoyez plus de messages",
    "Je veux me désabonner",
    "je voudrais me desinscrire",
    "Retirez-moi de votre liste",
    "Plus de SMS svp",
]
NOT_OPT_OUTS = [
    "Can't stop smiling, thanks!",
    "I'll stop by the store tomorrow",
    "When does the sale end?",
    "Don't unsubscribe me, I love these",
    "I do not want to stop getting deals",
    "yes please, send the coupon",
    "What time do you close?",
    "The jacket arrived, thank you",
    "Is the stop at Main St open?",
    "Great deal, I'll take it",
    "How do I return an item?",
    "Remove the extra item from my order",
    "Can you text me when it ships?",
    "ok",
    "Thanks!",
    "",
    "   ",
    "Stopwatch in stock?",
    "The endgame",
    "You can message me anytime",
    "Please send me more messages like this",
    "No quiero darme de baja, me encantan",
    "el alto de la montaña",
    "no puedo parar de reír",
    "quiero más información",
    "no mande el paquete todavía",
    "Je ne veux pas me désabonner",
    "J'aimerais plus de messages comme ça",
    "Merci beaucoup !",
]


@pytest.mark.parametrize("body", OPT_OUTS)
def test_free_text_revocations_opt_out(body):
    assert reply_intent(body) is Intent.STOP


@pytest.mark.parametrize("body", NOT_OPT_OUTS)
def test_replies_that_only_contain_the_words_do_not(body):
    assert reply_intent(body) is Intent.NONE
