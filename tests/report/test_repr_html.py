"""Jupyter shows a simulation and an instance through their _repr_html_."""

import sagasim


class Greet(sagasim.Workflow):
    name = "greet <b>"

    async def run(self, event, step):
        return await step.do("greet", lambda: "hi")


def test_simulation_and_instance_render_as_html_summaries():
    """_repr_html_ gives escaped HTML with the status and an inline timeline."""
    sim = sagasim.Simulation(seed=1)
    inst = sim.create(Greet, id="first")
    sim.run()

    page = sim._repr_html_()
    card = inst._repr_html_()

    assert page.startswith('<div class="sagasim-simulation"')
    assert "complete" in page
    assert card.startswith('<div class="sagasim-instance"')
    assert "<strong>Instance first</strong>" in card
    assert "greet &lt;b&gt;" in card and "greet <b>" not in card
    assert 'src="data:image/png;base64,' in card
