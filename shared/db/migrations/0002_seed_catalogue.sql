-- The seed catalogue starts with these 15 species.
INSERT INTO seed (name) VALUES
    ('Brassica napus'), ('Brassica juncea'), ('Cirsium arvense'), ('Cirsium vulgare'),
    ('Carduus nutans'), ('Bromus secalinus'), ('Bromus hordeaceus'), ('Bromus japonicus'),
    ('Lolium temulentum'), ('Solanum carolinense'), ('Solanum nigrum'), ('Solanum rostratum'),
    ('Ambrosia artemisiifolia'), ('Ambrosia trifida'), ('Ambrosia psilostachya');
