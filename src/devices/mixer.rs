//! Sound-card mixers (crate `alsa`): the microphone gain and speaker volume from the config,
//! and mute cut at the card (the capture switch). Which mixer element a card uses for each is
//! chosen by name, purely, so the choice is unit-tested; setting it is a few ALSA calls.

use alsa::mixer::{Mixer, Selem, SelemId};

#[derive(Debug, thiserror::Error)]
pub enum MixerError {
    #[error("cannot open the mixer of {card}: {source} (is the card present? `amixer -c …` shows it)")]
    Open { card: String, source: alsa::Error },
    #[error("{card} has no {what} control (its mixer has: {found})")]
    NoControl { card: String, what: &'static str, found: String },
    #[error("cannot set {element} on {card}: {source}")]
    Set { card: String, element: String, source: alsa::Error },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Capture,
    Playback,
}

/// What one mixer element can do, as far as choosing goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub name: String,
    pub capture_volume: bool,
    pub playback_volume: bool,
    pub capture_switch: bool,
}

/// The card behind an ALSA PCM name: `plughw:CARD=Speaker,DEV=0` → `hw:Speaker`,
/// `hw:1,0` → `hw:1`. Aliases such as `default` or `pulse` have no card of their own.
pub fn card_of(pcm: &str) -> Option<String> {
    let (kind, rest) = pcm.split_once(':')?;
    if !matches!(kind, "hw" | "plughw" | "sysdefault" | "front" | "dsnoop" | "dmix") {
        return None;
    }
    let first = rest.split(',').next()?;
    let card = first.strip_prefix("CARD=").unwrap_or(first);
    (!card.is_empty()).then(|| format!("hw:{card}"))
}

/// The element that sets the level in `direction`: a well-known name first (Capture/Mic for
/// the microphone, Master/PCM/Speaker for the speaker), else the first that has a volume.
pub fn choose_volume(elements: &[Element], direction: Direction) -> Option<&Element> {
    let (preferred, has): (&[&str], fn(&Element) -> bool) = match direction {
        Direction::Capture => (&["Capture", "Mic", "Internal Mic", "Headset Mic"], |e| e.capture_volume),
        Direction::Playback => (&["Master", "PCM", "Speaker", "Headphone"], |e| e.playback_volume),
    };
    let usable: Vec<&Element> = elements.iter().filter(|e| has(e)).collect();
    preferred.iter().find_map(|p| usable.iter().copied().find(|e| e.name == *p)).or_else(|| usable.first().copied())
}

/// The elements whose capture switch cuts the microphone.
pub fn capture_switches(elements: &[Element]) -> Vec<&Element> {
    elements.iter().filter(|e| e.capture_switch).collect()
}

/// `percent` of the range `min..=max`.
pub fn raw_volume(percent: u32, min: i64, max: i64) -> i64 {
    min + ((max - min) * i64::from(percent.min(100)) + 50) / 100
}

fn open(card: &str) -> Result<Mixer, MixerError> {
    Mixer::new(card, false).map_err(|source| MixerError::Open { card: card.into(), source })
}

/// The card's simple-mixer elements.
fn elements_of(mixer: &Mixer) -> Vec<Element> {
    mixer
        .iter()
        .filter_map(Selem::new)
        .filter_map(|s| {
            Some(Element {
                name: s.get_id().get_name().ok()?.to_owned(),
                capture_volume: s.has_capture_volume(),
                playback_volume: s.has_playback_volume(),
                capture_switch: s.has_capture_switch(),
            })
        })
        .collect()
}

fn names(elements: &[Element]) -> String {
    if elements.is_empty() {
        "no controls".into()
    } else {
        elements.iter().map(|e| e.name.as_str()).collect::<Vec<_>>().join(", ")
    }
}

/// Sets the capture or playback level of `card` to `percent`; returns the element used.
pub fn set_volume(card: &str, direction: Direction, percent: u32) -> Result<String, MixerError> {
    let mixer = open(card)?;
    let found = elements_of(&mixer);
    let what = if direction == Direction::Capture { "capture volume" } else { "playback volume" };
    let element = choose_volume(&found, direction).ok_or_else(|| MixerError::NoControl {
        card: card.into(),
        what,
        found: names(&found),
    })?;
    let mixer = open(card)?;
    let set_error = |source| MixerError::Set { card: card.into(), element: element.name.clone(), source };
    let selem = mixer.find_selem(&SelemId::new(&element.name, 0)).ok_or_else(|| MixerError::NoControl {
        card: card.into(),
        what,
        found: names(&found),
    })?;
    match direction {
        Direction::Capture => {
            let (min, max) = selem.get_capture_volume_range();
            selem.set_capture_volume_all(raw_volume(percent, min, max)).map_err(set_error)?;
        }
        Direction::Playback => {
            let (min, max) = selem.get_playback_volume_range();
            selem.set_playback_volume_all(raw_volume(percent, min, max)).map_err(set_error)?;
        }
    }
    Ok(element.name.clone())
}

/// Opens (`on`) or cuts every capture switch of `card`; returns the elements switched.
pub fn set_capture_switch(card: &str, on: bool) -> Result<Vec<String>, MixerError> {
    let mixer = open(card)?;
    let found = elements_of(&mixer);
    let mut switched = Vec::new();
    for element in capture_switches(&found) {
        if let Some(selem) = mixer.find_selem(&SelemId::new(&element.name, 0)) {
            selem.set_capture_switch_all(i32::from(on)).map_err(|source| MixerError::Set {
                card: card.into(),
                element: element.name.clone(),
                source,
            })?;
            switched.push(element.name.clone());
        }
    }
    Ok(switched)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn el(name: &str, cv: bool, pv: bool, cs: bool) -> Element {
        Element { name: name.into(), capture_volume: cv, playback_volume: pv, capture_switch: cs }
    }

    #[test]
    fn the_card_comes_from_the_pcm_name() {
        assert_eq!(card_of("plughw:CARD=Speaker,DEV=0").as_deref(), Some("hw:Speaker"));
        assert_eq!(card_of("hw:1,0").as_deref(), Some("hw:1"));
        assert_eq!(card_of("sysdefault:CARD=Loopback").as_deref(), Some("hw:Loopback"));
        assert_eq!(card_of("default"), None);
        assert_eq!(card_of("pulse"), None);
    }

    #[test]
    fn a_usb_speakerphone_uses_mic_and_pcm() {
        let usb =
            [el("PCM", false, true, false), el("Mic", true, false, true), el("Auto Gain Control", false, false, false)];
        assert_eq!(choose_volume(&usb, Direction::Capture).unwrap().name, "Mic");
        assert_eq!(choose_volume(&usb, Direction::Playback).unwrap().name, "PCM");
        assert_eq!(capture_switches(&usb).len(), 1);
    }

    #[test]
    fn well_known_names_win_over_the_first_element() {
        let hda = [
            el("Headphone", false, true, false),
            el("Master", false, true, false),
            el("Capture", true, false, true),
            el("Mic Boost", true, false, false),
        ];
        assert_eq!(choose_volume(&hda, Direction::Playback).unwrap().name, "Master");
        assert_eq!(choose_volume(&hda, Direction::Capture).unwrap().name, "Capture");
        assert_eq!(choose_volume(&[el("Loopback", false, false, false)], Direction::Capture), None);
    }

    #[test]
    fn percent_maps_onto_the_element_range() {
        assert_eq!(raw_volume(0, 0, 100), 0);
        assert_eq!(raw_volume(70, 0, 100), 70);
        assert_eq!(raw_volume(50, -64, 63), 0);
        assert_eq!(raw_volume(100, 0, 31), 31);
        assert_eq!(raw_volume(150, 0, 31), 31);
    }
}
