"""minBERT: a from-scratch BERT encoder, tokenizer and AdamW, with multitask heads for
SST-5 sentiment, Quora paraphrase detection and STS-B similarity."""
from minbert.config import BertConfig
from minbert.model import BertModel, EncoderOutput
from minbert.optimizer import AdamW
from minbert.tokenizer import TokenBatch, Tokenizer

__all__ = ["AdamW", "BertConfig", "BertModel", "EncoderOutput", "TokenBatch", "Tokenizer"]
