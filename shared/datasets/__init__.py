"""Dataset files written from verified pictures: COCO detection, Azure ML JSON Lines, and
the temporary spools that let an export write its pictures first and these files after."""
