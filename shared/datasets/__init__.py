"""Dataset files written from verified pictures: COCO detection, Azure ML JSON Lines, and
the temporary spools that let an export go through its picked rows with no connection
held and write its pictures first and these files after."""
