"""Text analysis shared by the assistant and the local models: terms, BM25, sentences, language.

Below the planes: the assistant ranks passages with it, and the ``local-extractive`` provider
ranks sentences with the same terms, so both agree on what a word is in every script.
"""
