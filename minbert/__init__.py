"""minBERT: a from-scratch BERT encoder, tokenizer and AdamW, with multitask heads for
SST-5 sentiment, Quora paraphrase detection and STS-B similarity."""
from .config import BertConfig
from .model import BertModel, EncoderOutput
from .optimizer import AdamW
from .tokenizer import TokenBatch, Tokenizer

__all__ = ["AdamW", "BertConfig", "BertModel", "EncoderOutput", "TokenBatch", "Tokenizer"]
