"""Which half of the tiny Latent ViTok falls short? (Fig 19, issue 14)

At fig19's tiny setting (U-U/8, 32 px, L = 16 patch tokens) the Latent ViTok stays about 2 dB under the simple ViTok
at E = 128. This trains four tokenizers at E = 128 with l = L = 16 tokens of c = 8, so that the two kinds' halves fit
together, on fig19's tiny recipe (its crop pool, steps, batch, lr), and scores each on fig19's held-out photos:

- simple: the simple ViTok (encoder and decoder both per patch)
- latent: the Latent ViTok (1D latent tokens in the encoder, mask tokens in the decoder)
- latent-encoder: the Latent encoder with the simple decoder (latent token i is decoded at patch i)
- latent-decoder: the simple encoder with the Latent decoder (patch token i's code is one 1D token)

Run: python experiments/fig19_halves.py [--out _out/fig19_halves] [--seed S]   (about 3 min on 1 core)
Each arm's run folder holds a checkpoint whose config names the encoder's kind only: load the hybrids with this script.
"""
import argparse, dataclasses, json, time
from pathlib import Path
from vitok.evaluate import evaluate_tokenizer
from vitok.model import Decoder, ViTok
from vitok.presets.appendix import FIG19
from vitok.sweep import crop_pool
from vitok.train import Trainer
from vitok.utils import write_json

CHANNELS = 8

def arms(L: int) -> dict[str, tuple[int, int]]:
    "Each arm's (encoder l, decoder l): l = L 1D tokens on a Latent half, 0 on a simple one."
    return {"simple": (0, 0), "latent": (L, L), "latent-encoder": (L, 0), "latent-decoder": (0, L)}

class HalvesTrainer(Trainer):
    "A stage-1 Trainer whose model takes its encoder from `cfg` and its decoder from `decoder_tokens` (0: the simple one)."
    def __init__(self, cfg, decoder_tokens: int):
        self.decoder_tokens = decoder_tokens
        super().__init__(cfg)

    def _build_model(self) -> ViTok:
        model = super()._build_model()
        if self.decoder_tokens != model.cfg.latent_tokens:      # the plain kinds keep their own decoder and its initial weights
            model.decoder = Decoder(dataclasses.replace(model.cfg, latent_tokens=self.decoder_tokens))
        return model

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="_out/fig19_halves"); ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--pool", type=int, default=None, help="crops to train on (default: fig19 tiny's pool)")
    ap.add_argument("--eval-images", type=int, default=None, help="held-out photos (default: fig19 tiny's)")
    a = ap.parse_args()
    P, out = FIG19.get("tiny"), Path(a.out)
    pool = crop_pool(out / "pool", a.pool or P.pool, P.resolution)
    n_val = a.eval_images or P.eval_images
    L, rows = (P.resolution // P.patch) ** 2, []
    for name, (enc_l, dec_l) in arms(L).items():
        t = time.time()
        cfg = dataclasses.replace(P.train, variant=f"{P.model}/{P.patch}", channels=CHANNELS, resolution=P.resolution, data=str(pool),
                                  out=str(out / f"{name}-seed{a.seed}"), latent_tokens=enc_l, seed=a.seed,
                                  steps=a.steps or P.train.steps, eval_every=a.steps or P.train.steps, threads=P.threads)
        trainer = HalvesTrainer(cfg, dec_l)
        trainer.fit()
        # scored as the sweep scores fig19's runs (posterior mean, uint8), from the model in memory: a hybrid's
        # config.json names only its encoder's kind, so load_tokenizer could not rebuild it from the folder
        m = evaluate_tokenizer(trainer.model, "builtin", P.resolution, ("psnr", "ssim"), limit=n_val, progress=False)["metrics"]
        rows.append({"arm": name, "encoder_latent_tokens": enc_l, "decoder_latent_tokens": dec_l, "E": L * CHANNELS,
                     "val_psnr": m["psnr"], "val_ssim": m["ssim"], "steps": cfg.steps, "seed": a.seed,
                     "seconds": round(time.time() - t)})
        print(json.dumps(rows[-1]), flush=True)
    write_json(out / f"results-seed{a.seed}.json", rows)
    print(f"\n{'arm':16s} val PSNR (dB)  val SSIM   at E = {L * CHANNELS}, {n_val} held-out photos")
    for r in rows: print(f"{r['arm']:16s} {r['val_psnr']:12.2f}  {r['val_ssim']:8.3f}")

if __name__ == "__main__":
    main()
